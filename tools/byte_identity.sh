#!/usr/bin/env bash
# Behaviour did not change: runs the same experiments with twp built from REF (a commit) and from
# the working tree, on the CPU backend with the same seeds, and compares what they wrote with
# tools/compare_results.py (snapshots, checkpoints, model files, results.json timings aside, the
# plots' data; PNGs with --skip-png where a change was meant to redraw them).
#   tools/byte_identity.sh REF [--skip-png] [--work DIR]
# The experiments, on the first 3200 training and 500 test images of data/mnist (tools/fetch-data.sh):
#   full            2 runs x 2 epochs, 5 snapshots per epoch, PCA to 6 components, 3 predictor epochs
#   train_predictor the same snapshots, --standardize --target delta
#   evaluate, extrapolate, plugin_test   with the full run's predictor_best.safetensors
# Both builds are CPU-only Release builds of the twp target (about 3 minutes each on 2 cores).
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
ref="" skip_png="" work=""
while (($#)); do
    case "$1" in
        --skip-png) skip_png=--skip-png ;;
        --work) work="$2"; shift ;;
        -*) echo "byte_identity: unknown option $1" >&2; exit 2 ;;
        *) ref="$1" ;;
    esac
    shift
done
[[ -n "$ref" ]] || { echo "usage: tools/byte_identity.sh REF [--skip-png] [--work DIR]" >&2; exit 2; }
git -C "$root" rev-parse --verify --quiet "$ref^{commit}" > /dev/null ||
    { echo "byte_identity: '$ref' is not a commit of $root" >&2; exit 2; }
[[ -f "$root/data/mnist/train-images-idx3-ubyte" ]] ||
    { echo "byte_identity: no data/mnist: run tools/fetch-data.sh first" >&2; exit 2; }
work="${work:-$(mktemp -d /tmp/twp-byte-identity.XXXXXX)}"
mkdir -p "$work"
echo "byte_identity: reference $(git -C "$root" rev-parse --short "$ref"), working tree $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ' + changes'), in $work"

build() {  # build SOURCE_DIR BUILD_DIR
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DTWP_CUDA=OFF -DTWP_BUILD_TESTS=OFF > "$2.log" 2>&1 &&
        cmake --build "$2" -j "$(nproc)" --target twp >> "$2.log" 2>&1 ||
        { tail -30 "$2.log"; echo "byte_identity: the build in $2 failed" >&2; exit 1; }
}
if [[ ! -d "$work/ref-src" ]]; then
    git -C "$root" worktree add --detach "$work/ref-src" "$ref" > /dev/null
fi
build "$work/ref-src" "$work/ref-build"
build "$root" "$work/new-build"

# A small MNIST: the first 3200 training and 500 test images, IDX as fetched.
mkdir -p "$work/mnist"
/usr/bin/env python3 - "$root/data/mnist" "$work/mnist" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
for name, count in [("train", 3200), ("t10k", 500)]:
    images = open(f"{src}/{name}-images-idx3-ubyte", "rb").read()
    magic, _, rows, cols = struct.unpack(">IIII", images[:16])
    open(f"{dst}/{name}-images-idx3-ubyte", "wb").write(
        struct.pack(">IIII", magic, count, rows, cols) + images[16:16 + count * rows * cols])
    labels = open(f"{src}/{name}-labels-idx1-ubyte", "rb").read()
    magic, _ = struct.unpack(">II", labels[:8])
    open(f"{dst}/{name}-labels-idx1-ubyte", "wb").write(struct.pack(">II", magic, count) + labels[8:8 + count])
PY

experiments() {  # experiments TWP OUT
    local twp="$1" out="$2"
    rm -rf "$out"
    mkdir -p "$out"
    local common=(--data_dir "$work/mnist" --snapshot_dir "$out/snapshots" --threads 2 --apply_pca --n_components 6
                  --sequence_length 2 --predictor_epochs 3 --num_layers 1 --dim_feedforward 32
                  --extrapolation_steps 3)
    "$twp" "${common[@]}" --training_epochs 2 --snapshots_per_epoch 5 --num_runs 2 --results_dir "$out/full" \
        > "$out/full.log" 2>&1
    "$twp" "${common[@]}" --mode train_predictor --standardize --target delta --results_dir "$out/delta" \
        > "$out/delta.log" 2>&1
    local model
    # predictor_best before the forecaster recipes, seed_best (the reference's transformer) after.
    model="$(ls "$out"/full/experiment_*/models/{predictor,seed}_best.safetensors 2>/dev/null | head -1)"
    for mode in evaluate extrapolate plugin_test; do
        "$twp" "${common[@]}" --mode "$mode" --model_path "$model" --results_dir "$out/$mode" > "$out/$mode.log" 2>&1
    done
}
experiments "$work/ref-build/twp" "$work/ref-out" ||
    { echo "byte_identity: an experiment failed with the reference build (logs in $work/ref-out)" >&2; exit 1; }
experiments "$work/new-build/twp" "$work/new-out" ||
    { echo "byte_identity: an experiment failed with the working tree's build (logs in $work/new-out)" >&2; exit 1; }
status=0
for part in snapshots full delta evaluate extrapolate plugin_test; do
    /usr/bin/env python3 "$root/tools/compare_results.py" $skip_png "$work/ref-out/$part" "$work/new-out/$part" || status=1
done
if ((status == 0)); then echo "byte_identity: PASS: the working tree writes what $ref writes"; else echo "byte_identity: FAIL"; fi
exit $status
