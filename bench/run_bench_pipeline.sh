#!/usr/bin/env bash
# The whole pipeline's cost by stage, so it can be followed as the snapshot count n, the PCA width
# d and the window length k grow: runs `twp --mode full` into a temporary folder with the given
# arguments (default: a small configuration) and prints the stage times of its results.json with
# the sizes that drive them, as JSON.
#   usage: bench/run_bench_pipeline.sh [twp arguments...]
#   e.g.   bench/run_bench_pipeline.sh --num_runs 3 --training_epochs 20 --snapshots_per_epoch 2 \
#              --apply_pca --n_components 500 --predictor_epochs 100
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -x "$root/build/twp" ]] || "$root/tools/build.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if (($# == 0)); then
    set -- --num_runs 2 --training_epochs 2 --snapshots_per_epoch 5 --apply_pca --n_components 500 \
        --predictor_epochs 10
fi
"$root/build/twp" --mode full "$@" --data_dir "$root/data/mnist" --snapshot_dir "$work/snapshots" \
    --results_dir "$work/results" > "$work/log.txt" 2>&1 || { cat "$work/log.txt"; exit 1; }
/usr/bin/python3 - "$work"/results/experiment_*/results.json "$*" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"arguments": sys.argv[2],
                  "snapshots_per_run": r["base_model"]["runs"][0]["snapshots"],
                  "runs": len(r["base_model"]["runs"]),
                  "pca_components": r["pca"].get("components"), "input_dim": r["pca"]["input_dim"],
                  "sequence_length": r["predictor"]["sequence_length"],
                  "windows": r["windows"], "stage_seconds": r["stage_seconds"]}, indent=2))
PY
