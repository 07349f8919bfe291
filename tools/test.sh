#!/usr/bin/env bash
# The test command, from a fresh clone: installs what is missing, fetches MNIST, builds, and runs
# the whole CTest suite (unit tests, then the training tests on MNIST). Extra arguments go to
# ctest, e.g. tools/test.sh -L unit.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup-deps.sh
tools/fetch-data.sh
tools/build.sh
cd build
ctest --output-on-failure "$@"
