#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one command (meant to finish within 8 minutes on one
# H100/H200-class GPU):
#   1. configure and build build-gpu/ with CUDA for this GPU's architecture;
#   2. the `gpu` CTest label: every kernel test, the CUDA-backend tests and the small whole
#      experiment against the CPU backend, natively on the GPU;
#   3. compute-sanitizer memcheck and racecheck over the kernel tests (where the tool exists);
#   4. with MNIST in data/mnist: one epoch through the CLI on the GPU, 20 epochs against the
#      CPU backend's accuracy for the same seed (within 0.2 points), and a small `--mode full`
#      on the GPU and on the CPU with the same seed (bench/run_bench_pipeline_gpu.sh: the same
#      files, metrics within tolerance, time per stage);
#   5. the benchmarks, twp beside PyTorch on the same GPU where PyTorch has CUDA:
#      bench/run_bench_lenet5_gpu.sh, bench/run_bench_predictor_gpu.sh, and
#      bench/run_bench_pca_gpu.sh at n = 200, 1000 (--quick: 200): the cuSOLVER PCA fit, its
#      stages, agreement with the CPU fit, cusolverDnDgesvd and PyTorch beside it (n = 4000, the
#      full benchmark, takes longer: run it by hand).
# Prints a report at the end saying which steps passed, failed or were skipped, and why; exits
# non-zero when any step failed. The machine needs cmake, g++, the CUDA toolkit and the project's
# Debian packages (tools/setup-deps.sh installs them where apt works); MNIST is fetched with
# tools/fetch-data.sh where the network allows, otherwise bring data/mnist along.
#   usage: tools/gpu-check.sh [--quick]   (--quick: skip the 20-epoch run and shorten the benchmark)
set -uo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quick=0
[[ ${1:-} == --quick ]] && quick=1
build=build-gpu
report=()
failed=0
started_all=$SECONDS

# step NAME COMMAND...: runs it, records PASS/FAIL with its time; the output goes to the console.
step() {
    local name=$1
    shift
    local started=$SECONDS
    echo
    echo "==== $name"
    if "$@"; then
        report+=("PASS    $name ($((SECONDS - started)) s)")
    else
        report+=("FAIL    $name ($((SECONDS - started)) s)")
        failed=1
    fi
}
skip() { report+=("SKIPPED $1: $2"); echo; echo "==== $1: skipped ($2)"; }

finish() {
    echo
    echo "==== gpu-check report ($((SECONDS - started_all)) s in all)"
    printf '%s\n' "${report[@]}"
    exit "$failed"
}

if ! command -v nvidia-smi > /dev/null || ! nvidia-smi > /dev/null 2>&1; then
    skip "everything" "no NVIDIA GPU or driver here (nvidia-smi fails)"
    finish
fi
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[[ -x $nvcc ]] || { skip "everything" "no nvcc (CUDA toolkit) on this machine"; finish; }
"$nvcc" --version | tail -n 2
# Only this GPU's architecture: a third of the compile time of 80;90.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '. ')

if command -v apt-get > /dev/null && ! dpkg -s libopenblas-dev > /dev/null 2>&1; then
    tools/setup-deps.sh || true
fi
configure_and_build() {
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTWP_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
        -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$build.log" 2>&1 || { tail -n 40 "$build.log"; return 1; }
    grep -q "twp: CUDA ON" "$build.log" || { echo "CMake did not enable CUDA:"; grep "twp:" "$build.log"; return 1; }
    cmake --build "$build" -j "$(nproc)" --target twp twp_kernel_tests_gpu twp_cuda_backend_tests_gpu \
        twp_pipeline_cuda_tests_gpu twp_pca_device_tests_gpu \
        bench_lenet5_gpu bench_predictor_gpu bench_pca_gpu >> "$build.log" 2>&1 || { grep -E "error|Error" "$build.log" | head -n 40; return 1; }
}
step "build with CUDA (sm_$arch) in $build" configure_and_build
if ((failed)); then finish; fi

[[ -f data/mnist/train-images-idx3-ubyte || -f data/mnist/train-images-idx3-ubyte.gz ]] ||
    timeout 120 tools/fetch-data.sh > /dev/null 2>&1 || true
have_mnist=0
[[ -f data/mnist/train-images-idx3-ubyte || -f data/mnist/train-images-idx3-ubyte.gz ]] && have_mnist=1

step "ctest -L gpu (kernels, the CUDA backend, its PCA, the whole experiment on the GPU)" \
    bash -c "cd $build && ctest -L gpu --output-on-failure --timeout 300"

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2> /dev/null || true)
if [[ -n $sanitizer ]]; then
    # memcheck over every kernel test; racecheck (shared-memory hazards) over the LeNet and
    # transformer kernels, which are the ones with shared memory and barriers.
    step "compute-sanitizer memcheck: twp_kernel_tests_gpu" \
        timeout 300 "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full "$build/twp_kernel_tests_gpu"
    step "compute-sanitizer memcheck: twp_pca_device_tests_gpu" \
        timeout 300 "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full "$build/twp_pca_device_tests_gpu"
    step "compute-sanitizer racecheck: twp_kernel_tests_gpu [lenet],[transformer]" \
        timeout 300 "$sanitizer" --tool racecheck --error-exitcode 1 --racecheck-report hazard \
        "$build/twp_kernel_tests_gpu" "[lenet],[transformer]"
else
    skip "compute-sanitizer" "not found in PATH or /usr/local/cuda/bin"
fi

if ((have_mnist)); then
    step "twp --mode train_base, 1 epoch on the GPU (CLI)" bash -c "
        rm -rf '$build/gpu_check_snapshots' &&
        '$build/twp' --mode train_base --num_runs 1 --training_epochs 1 --snapshot_dir '$build/gpu_check_snapshots' 2>&1 |
            tee '$build/gpu_check_train.log' | grep -E 'twp:|run 1' &&
        grep -q 'CUDA device' '$build/gpu_check_train.log'"
    if ((quick)); then
        skip "20 epochs against the CPU backend's accuracy" "--quick"
    else
        step "20 epochs on the GPU within 0.2 points of the CPU backend's accuracy" \
            "$build/twp_cuda_backend_tests_gpu" "[long]" --success --durations yes
    fi
    step "twp --mode full on the GPU and on the CPU: same files, metrics within tolerance, time per stage" \
        bench/run_bench_pipeline_gpu.sh --build "$root/$build" --num_runs 1 --training_epochs 1 \
        --snapshots_per_epoch 20 --apply_pca --n_components 8 --predictor_epochs 10
else
    skip "MNIST runs on the GPU" "no data/mnist (tools/fetch-data.sh could not fetch it here): bring data/mnist along"
fi

seconds=3
((quick)) && seconds=1
step "bench/run_bench_lenet5_gpu.sh" bench/run_bench_lenet5_gpu.sh "$seconds" "$root/$build"
step "bench/run_bench_predictor_gpu.sh" bench/run_bench_predictor_gpu.sh "$seconds" "$root/$build"
pca_sizes=200,1000
((quick)) && pca_sizes=200
step "bench/run_bench_pca_gpu.sh $pca_sizes" bench/run_bench_pca_gpu.sh "$pca_sizes" "$root/$build"
finish
