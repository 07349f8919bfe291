#!/usr/bin/env bash
# LeNet-5 throughput, twp's CPU backend beside PyTorch on the same machine in the same run, and
# the ratios. PyTorch runs at its best here: 2 torch threads with OPENBLAS_NUM_THREADS=1 (two
# OpenBLAS threads under two torch threads oversubscribe the cores) and OpenBLAS as the system BLAS
# (tools/setup-deps.sh --bench). Prints one JSON object.
#   usage: bench/run_bench_lenet5.sh [seconds per measurement, default 5]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-5}"
threads="$(nproc)"
"$root/tools/setup-deps.sh" --bench > /dev/null
[[ -x "$root/build/bench_lenet5" ]] || "$root/tools/build.sh"
twp_json="$("$root/build/bench_lenet5" --seconds "$seconds" --threads "$threads")"
torch_json="$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/bench_lenet5_torch.py" \
    --seconds "$seconds" --threads "$threads")"
/usr/bin/python3 - "$twp_json" "$torch_json" <<'PY'
import json, sys
twp, torch = json.loads(sys.argv[1]), json.loads(sys.argv[2])
keys = [k for k in twp if k.endswith("_per_s_batch32") or k.endswith("_per_s_batch64") or k.endswith("_batch1000")]
print(json.dumps({"twp": twp, "pytorch": torch,
                  "ratio_twp_over_pytorch": {k: round(twp[k] / torch[k], 2) for k in keys}}, indent=2))
PY
