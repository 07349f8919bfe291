#!/usr/bin/env bash
# Configures and builds twp in build/ (Release; CUDA code too when nvcc is found). Extra
# arguments go to cmake's configure step, e.g. -DTWP_CUDA=OFF.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" > "$root/build.log" 2>&1 ||
    { cat "$root/build.log"; exit 1; }
cmake --build "$root/build" -j "$(nproc)"
