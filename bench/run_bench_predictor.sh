#!/usr/bin/env bash
# The predictor's training step (d=500, 6 layers, ff 2048, batch 32, sequence 3), twp's CPU
# backend beside PyTorch in the same run, with PyTorch at its best here (2 torch threads,
# OPENBLAS_NUM_THREADS=1, OpenBLAS as the system BLAS). Prints JSON with the speed-up.
#   usage: bench/run_bench_predictor.sh [repeats, default 30]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
repeats="${1:-30}"
threads="$(nproc)"
"$root/tools/setup-deps.sh" --bench > /dev/null
[[ -x "$root/build/bench_predictor" ]] || "$root/tools/build.sh"
twp_json="$("$root/build/bench_predictor" --repeats "$repeats" --threads "$threads")"
torch_json="$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/bench_predictor_torch.py" \
    --repeats "$repeats" --threads "$threads")"
/usr/bin/python3 - "$twp_json" "$torch_json" <<'PY'
import json, sys
twp, torch = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"twp": twp, "pytorch": torch,
                  "speedup_twp_over_pytorch": round(torch["train_step_ms_median"] / twp["train_step_ms_median"], 2)},
                 indent=2))
PY
