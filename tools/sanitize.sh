#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan/ with
# GCC (RelWithDebInfo: -O2 keeps the MNIST tests affordable; -g1, line tables only, gives stack
# traces with file and line and compiles a quarter faster than -g; -fno-omit-frame-pointer makes
# the traces complete), CUDA off, every sanitizer report fatal
# (-fno-sanitize-recover=all), then runs the unit tests and the MNIST tests with ctest. Leaks are
# reported too (LeakSanitizer, part of ASan on Linux). Extra arguments go to ctest, e.g.
# tools/sanitize.sh -L unit.
#
# OpenMP (libgomp) and OpenBLAS are system libraries, not instrumented: ASan still checks our
# code's accesses to the buffers we hand them, but not their own internals. They cause no leak
# reports (their thread pools stay reachable from globals), so no LeakSanitizer suppressions are
# needed; should one ever be, limit it to those libraries.
#
# Left out under the sanitizers: cli_train_base_one_epoch and cli_full_small (and the tests that
# only check their output with an uninstrumented Python: pytorch_loads_snapshot, numpy_*): one
# epoch through the CLI is the slowest test here (minutes under ASan on 2 cores) and adds no code:
# the in-process one-epoch test trains through the same functions, and the pipeline test runs the
# same CLI (train_base and the whole --mode full included).
# Also left out: kernel_tests_{reversed,shuffled}_schedule, the kernel tests again with the
# emulated threads in another order: the same code paths as kernel_tests (which does run here),
# checked for ordering bugs by the uninstrumented suite and by tools/tsan.sh.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup-deps.sh
tools/fetch-data.sh > /dev/null

# At most 2 compilers: CI machines have 2 cores, and a sanitized compile is memory-hungry.
jobs=$(nproc)
if ((jobs > 2)); then jobs=2; fi
sanitize_flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
started=$SECONDS
mkdir -p build-asan
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTWP_CUDA=OFF \
    -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_CXX_FLAGS="$sanitize_flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > build-asan/build.log 2>&1 ||
    { cat build-asan/build.log; exit 1; }
cmake --build build-asan -j "$jobs" --target twp twp_tests twp_mnist_tests twp_kernel_tests twp_cuda_backend_tests \
    twp_pca_device_tests twp_pipeline_cuda_tests twp_per_weight_cuda_tests twp_diffusion_cuda_tests twp_capture_tests >> build-asan/build.log 2>&1 ||
    { tail -n 60 build-asan/build.log; exit 1; }
echo "sanitize: build-asan built in $((SECONDS - started)) s"

# halt_on_error / abort_on_error: the first report fails the test that triggered it.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:detect_odr_violation=2"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
started=$SECONDS
cd build-asan
ctest --output-on-failure \
    -E '^(cli_train_base_one_epoch|pytorch_loads_snapshot|cli_full_small(_clean)?|numpy_.*|kernel_tests_(reversed|shuffled)_schedule)$' "$@"
echo "sanitize: ctest under ASan+UBSan passed in $((SECONDS - started)) s"
