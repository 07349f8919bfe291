#!/usr/bin/env bash
# PCA on the GPU: twp's CUDA fit (bench_pca_gpu: Gram matrix + cusolverDnDsyevd, per-stage times
# against the chip's limits, agreement with the CPU fit, and cusolverDnDgesvd on the centered data
# for comparison) beside PyTorch on the same GPU in the same run (torch.linalg.svd and
# torch.pca_lowrank in float64, where PyTorch with CUDA is installed), and the time ratios.
# Prints one JSON object. Needs a build with CUDA (tools/build.sh on a machine with nvcc).
#   usage: bench/run_bench_pca_gpu.sh [sizes, default 200,1000,4000] [build dir, default build]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
sizes="${1:-200,1000,4000}"
build="${2:-$root/build}"
[[ -x "$build/bench_pca_gpu" ]] || { echo "bench: $build/bench_pca_gpu missing: build with CUDA first" >&2; exit 1; }
twp_json="$("$build/bench_pca_gpu" --sizes "$sizes" --compare-gesvd)"
# The python3 whose PyTorch has CUDA: TWP_PYTHON (tools/gpu-check.sh finds and exports it), else
# /usr/bin/python3, else python3 on PATH.
python=${TWP_PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=python3
torch_json="$("$python" "$root/bench/bench_pca_torch_gpu.py" --sizes "$sizes" 2>/dev/null ||
    echo '{"skipped": "the PyTorch script failed"}')"
"$python" - "$twp_json" "$torch_json" <<'PY'
import json, sys
twp, torch = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratios = {}
if "skipped" not in torch:
    theirs = {entry["n"]: entry for entry in torch["sizes"]}
    for entry in twp["sizes"]:
        n = entry["n"]
        if n in theirs:
            ratios[f"n{n}_torch_svd_over_twp_fit"] = round(theirs[n]["svd_float64_seconds"] / entry["device_fit_seconds"], 2)
            ratios[f"n{n}_torch_pca_lowrank_over_twp_fit"] = round(
                theirs[n]["pca_lowrank_float64_seconds"] / entry["device_fit_seconds"], 2)
print(json.dumps({"twp": twp, "pytorch": torch, "ratios": ratios}, indent=1))
PY
