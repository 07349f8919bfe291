#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, fetches MNIST, builds, and runs
# the whole experiment as the reference's multi-run example does (3 runs x 20 epochs of LeNet-5
# with 2 snapshots per epoch, PCA, 100 predictor epochs, 5 extrapolation steps); prints where the
# results are. Arguments replace the default ones, e.g. tools/run.sh --mode train_base.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup-deps.sh
tools/fetch-data.sh
tools/build.sh
if (($# == 0)); then
    set -- --mode full --num_runs 3 --training_epochs 20 --snapshots_per_epoch 2 --apply_pca \
        --n_components 500 --predictor_epochs 100 --extrapolation_steps 5
fi
exec build/twp "$@"
