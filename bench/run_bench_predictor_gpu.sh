#!/usr/bin/env bash
# The predictor on the GPU: twp's CUDA backend (bench_predictor_gpu: the training step as twp's
# loop runs it, on the device alone, as a CUDA graph; inference; per-kernel times against the
# chip's limits) beside PyTorch on the same GPU in the same run (eager and torch.cuda.CUDAGraph,
# where PyTorch with CUDA is installed), and the ratios. Prints one JSON object. Needs a build
# with CUDA (tools/build.sh on a machine with nvcc).
#   usage: bench/run_bench_predictor_gpu.sh [seconds per measurement, default 3] [build dir, default build]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-3}"
build="${2:-$root/build}"
[[ -x "$build/bench_predictor_gpu" ]] || { echo "bench: $build/bench_predictor_gpu missing: build with CUDA first" >&2; exit 1; }
twp_json="$("$build/bench_predictor_gpu" --seconds "$seconds")"
# The python3 whose PyTorch has CUDA: TWP_PYTHON (tools/gpu-check.sh finds and exports it), else
# /usr/bin/python3, else python3 on PATH.
python=${TWP_PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=python3
torch_json="$("$python" "$root/bench/bench_predictor_torch_gpu.py" --seconds "$seconds" 2>/dev/null ||
    echo '{"skipped": "the PyTorch script failed"}')"
"$python" - "$twp_json" "$torch_json" <<'PY'
import json, sys
twp, torch = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratios = {}
if "skipped" not in torch:
    # Speed-ups: PyTorch's time over twp's (above 1: twp is faster).
    ratios["train_loop_twp_over_pytorch_eager_loop"] = round(torch["train_step_ms_eager_loop"] / twp["train_step_ms_twp_loop"], 2)
    ratios["train_device_twp_over_pytorch_eager"] = round(torch["train_step_ms_eager"] / twp["train_step_ms_device"], 2)
    ratios["train_graph_twp_over_pytorch_cuda_graph"] = round(torch["train_step_ms_cuda_graph"] / twp["train_step_ms_graph"], 2)
    ratios["inference_twp_over_pytorch_eager"] = round(torch["inference_ms_eager"] / twp["inference_ms"], 2)
    ratios["inference_graph_twp_over_pytorch_cuda_graph"] = round(torch["inference_ms_cuda_graph"] / twp["inference_ms_graph"], 2)
print(json.dumps({"twp": twp, "pytorch": torch, "ratios": ratios}, indent=1))
PY
