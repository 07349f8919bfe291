#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, fetches MNIST, builds, and runs
# twp (by default the base training with the reference's defaults: 3 runs x 20 epochs).
# Arguments replace the default ones, e.g. tools/run.sh --mode train_base --num_runs 1.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup-deps.sh
tools/fetch-data.sh
tools/build.sh
if (($# == 0)); then set -- --mode train_base; fi
exec build/twp "$@"
