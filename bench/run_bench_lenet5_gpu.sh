#!/usr/bin/env bash
# LeNet-5 training on the GPU: twp's CUDA backend (bench_lenet5_gpu: with and without the CUDA
# graph, and per-kernel times against the chip's limits) beside PyTorch on the same GPU in the same
# run (eager and torch.cuda.CUDAGraph, where PyTorch with CUDA is installed), and the ratios.
# Prints one JSON object. Needs a build with CUDA (tools/build.sh on a machine with nvcc).
#   usage: bench/run_bench_lenet5_gpu.sh [seconds per measurement, default 3] [build dir, default build]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-3}"
build="${2:-$root/build}"
[[ -x "$build/bench_lenet5_gpu" ]] || { echo "bench: $build/bench_lenet5_gpu missing: build with CUDA first" >&2; exit 1; }
twp_json="$("$build/bench_lenet5_gpu" --seconds "$seconds")"
# The python3 whose PyTorch has CUDA: TWP_PYTHON (tools/gpu-check.sh finds and exports it), else
# /usr/bin/python3, else python3 on PATH.
python=${TWP_PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=python3
torch_json="$("$python" "$root/bench/bench_lenet5_torch_gpu.py" --seconds "$seconds" 2>/dev/null ||
    echo '{"skipped": "the PyTorch script failed"}')"
"$python" - "$twp_json" "$torch_json" <<'PY'
import json, sys
twp, torch = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratios = {}
if "skipped" not in torch:
    for batch in (32, 64):
        ours = twp[f"train_images_per_s_batch{batch}"]
        ratios[f"twp_over_pytorch_eager_batch{batch}"] = round(ours / torch[f"train_images_per_s_batch{batch}_eager"], 2)
        ratios[f"twp_over_pytorch_cuda_graph_batch{batch}"] = round(ours / torch[f"train_images_per_s_batch{batch}_cuda_graph"], 2)
print(json.dumps({"twp": twp, "pytorch": torch, "ratios": ratios}, indent=1))
PY
