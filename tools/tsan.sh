#!/usr/bin/env bash
# The kernel tests under ThreadSanitizer: builds build-tsan/ with GCC -fsanitize=thread -O1 -g,
# CUDA off, only twp_kernel_tests (the CUDA kernels run through the CPU emulation, kernels/emu/,
# where each emulated GPU thread is a TSan fiber and every barrier and warp operation is
# annotated: TSan reports exactly the shared- or global-memory accesses of two GPU threads with
# no barrier between them, i.e. a missing __syncthreads() or a non-atomic update from many
# threads). Then:
#   1. runs the kernel tests under the shuffled schedule (TWP_EMU_SCHEDULE=shuffled); any report
#      fails (halt_on_error);
#   2. proves the detector works: the hidden test [.tsan_planted] runs a kernel with a planted
#      missing __syncthreads(); it must die with "ThreadSanitizer: data race".
# Extra arguments go to the test binary, e.g. tools/tsan.sh "[emulation]".
#
# OpenMP (libgomp) and OpenBLAS are not instrumented: the CPU reference ops the kernel tests
# compare against run with one thread here (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1), so their
# thread pools cannot produce false reports and no suppressions are needed.
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup-deps.sh

# At most 2 compilers: CI machines have 2 cores, and a sanitized compile is memory-hungry.
jobs=$(nproc)
if ((jobs > 2)); then jobs=2; fi
started=$SECONDS
mkdir -p build-tsan
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTWP_CUDA=OFF \
    -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" > build-tsan/build.log 2>&1 ||
    { cat build-tsan/build.log; exit 1; }
cmake --build build-tsan -j "$jobs" --target twp_kernel_tests >> build-tsan/build.log 2>&1 ||
    { tail -n 60 build-tsan/build.log; exit 1; }
echo "tsan: build-tsan built in $((SECONDS - started)) s"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
tests=build-tsan/twp_kernel_tests
# One run suffices: ThreadSanitizer judges happens-before (the barriers' release/acquire), not the
# order the fibers happened to run in, so a missing barrier is a race under any schedule. The
# shuffled one also varies what the kernels compute in between. (The thread orders themselves are
# checked without TSan by the kernel_tests_reversed/_shuffled ctests.)
started=$SECONDS
TWP_EMU_SCHEDULE=shuffled "$tests" "$@"
echo "tsan: kernel tests under the shuffled schedule passed in $((SECONDS - started)) s"

# The planted race: the test fails either way (TSan halts it, or it FAILs when TSan stayed quiet),
# so what counts is TSan's report.
log=build-tsan/tsan_planted.log
if TWP_EMU_SCHEDULE=forward "$tests" "[.tsan_planted]" > "$log" 2>&1; then
    cat "$log"
    echo "tsan: the planted-race test passed; it must not" >&2
    exit 1
fi
if ! grep -q "ThreadSanitizer: data race" "$log"; then
    cat "$log"
    echo "tsan: ThreadSanitizer did not report the planted missing __syncthreads()" >&2
    exit 1
fi
echo "tsan: planted race caught ($(grep -m1 -o 'data race [^ ]* in [^ ]*' "$log" || echo 'see' "$log"))"
