#!/usr/bin/env bash
# The whole experiment on the GPU beside the CPU backend on the same machine: runs `twp --mode
# full` twice with the same arguments and seed, once on the CUDA backend and once with --no_cuda,
# and prints one JSON object with each run's wall time per stage (results.json's stage_seconds),
# the speed-up per stage, and how the two results agree: the same files in both results folders,
# config.txt naming the CUDA device, and the largest relative difference of the metrics that may
# drift by float rounding (see tests/test_pipeline_cuda.cpp for why and how far). Exits 1 when the
# files differ, the GPU run did not use the GPU, or a metric differs by more than --tolerance.
#   usage: bench/run_bench_pipeline_gpu.sh [--build DIR] [--tolerance T] [--keep DIR] [twp arguments...]
#   default arguments: a small configuration (2 runs x 2 epochs, 5 snapshots per epoch, PCA 50,
#   20 predictor epochs). The reference's example, for the issue's end-to-end figure:
#     bench/run_bench_pipeline_gpu.sh --num_runs 3 --training_epochs 20 --snapshots_per_epoch 2 \
#         --apply_pca --n_components 500 --predictor_epochs 100
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
tolerance=0.02
keep=""
while (($#)); do
    case $1 in
        --build) build=$2; shift 2 ;;
        --tolerance) tolerance=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        *) break ;;
    esac
done
[[ -x "$build/twp" ]] || { echo "bench: $build/twp missing: build first (tools/build.sh)" >&2; exit 1; }
if (($# == 0)); then
    set -- --num_runs 2 --training_epochs 2 --snapshots_per_epoch 5 --apply_pca --n_components 50 \
        --predictor_epochs 20
fi
work="${keep:-$(mktemp -d)}"
mkdir -p "$work"
[[ -n $keep ]] || trap 'rm -rf "$work"' EXIT
data="$root/data/mnist"
for device in gpu cpu; do
    extra=()
    [[ $device == cpu ]] && extra=(--no_cuda)
    rm -rf "$work/$device"
    start=$(date +%s%N)
    "$build/twp" --mode full "$@" "${extra[@]}" --data_dir "$data" --snapshot_dir "$work/$device/snapshots" \
        --results_dir "$work/$device/results" > "$work/$device.log" 2>&1 || { cat "$work/$device.log" >&2; exit 1; }
    echo $((($(date +%s%N) - start) / 1000000)) > "$work/$device.milliseconds"
done
# TWP_PYTHON (tools/gpu-check.sh exports it) or the system's python3: the comparison needs only
# the standard library.
python=${TWP_PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=python3
"$python" - "$work" "$tolerance" "$*" <<'PY'
import glob, json, math, os, sys
work, tolerance, arguments = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def folder(device):
    return sorted(glob.glob(os.path.join(work, device, "results", "experiment_*")))[-1]
def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
gpu, cpu = folder("gpu"), folder("cpu")
rg, rc = (json.load(open(os.path.join(f, "results.json"))) for f in (gpu, cpu))
differences = {}
def compare(name, a, b):
    if isinstance(a, dict):
        for k in a:
            if k in b and k not in ("seconds", "train_images_per_second", "stage_seconds", "model_path", "backend"):
                compare(f"{name}.{k}", a[k], b[k])
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            compare(f"{name}[{i}]", x, y)
    elif isinstance(a, (int, float)) and not isinstance(a, bool) and a is not None and b is not None:
        if math.isfinite(a) and math.isfinite(b):
            differences[name] = abs(a - b) / max(abs(b), 1e-12)
for key in ("base_model", "pca", "predictor_training", "direct_prediction", "extrapolation", "plug_in"):
    if key in rg and key in rc:
        compare(key, rg[key], rc[key])
worst = sorted(differences.items(), key=lambda kv: -kv[1])[:8]
config = open(os.path.join(gpu, "config.txt")).read()
stages_gpu, stages_cpu = rg["stage_seconds"], rc["stage_seconds"]
wall = {d: int(open(os.path.join(work, d + ".milliseconds")).read()) / 1000 for d in ("gpu", "cpu")}
out = {
    "arguments": arguments,
    "gpu_backend": rg["backend"], "cpu_backend": rc["backend"],
    "wall_seconds": wall, "speedup_wall": round(wall["cpu"] / wall["gpu"], 2),
    "stage_seconds_gpu": stages_gpu, "stage_seconds_cpu": stages_cpu,
    "speedup_per_stage": {k: round(stages_cpu[k] / stages_gpu[k], 2) for k in stages_gpu if k in stages_cpu and stages_gpu[k] > 0},
    "same_files": files(gpu) == files(cpu),
    "config_names_cuda_device": "CUDA device" in config or "cuda device" in config,
    "largest_relative_differences": {k: float(f"{v:.3g}") for k, v in worst},
    "tolerance": tolerance,
}
ok = out["same_files"] and out["config_names_cuda_device"] and (not worst or worst[0][1] <= tolerance)
out["agree"] = ok
if not out["same_files"]:
    out["files_only_gpu"] = sorted(set(files(gpu)) - set(files(cpu)))
    out["files_only_cpu"] = sorted(set(files(cpu)) - set(files(gpu)))
print(json.dumps(out, indent=1))
sys.exit(0 if ok else 1)
PY
