#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in two stages that fit a short window on a GPU machine with
# no package registry (README, "On a GPU machine"):
#   --stage 1 (at most 6 minutes on 16 cores, the build included): what the machine has (GPU,
#     driver, nvcc, compilers, CMake, Ninja, compute-sanitizer, glibc, the python3 whose PyTorch
#     has CUDA, and for each library whether it comes from the system or from the bundle);
#     configure and build build-gpu/ for this GPU's architecture only; the `gpu` CTest label
#     (every kernel test, the CUDA backend, its PCA, the whole experiment against the CPU backend);
#     one epoch through the CLI on the GPU; a short LeNet-5 benchmark beside PyTorch
#     (bench/run_bench_lenet5_gpu.sh).
#   --stage 2 (at most 5 minutes, reusing stage 1's build on the still-warm machine; it finishes
#     an interrupted build first): the small `--mode full` on the GPU and on the CPU compared file
#     by file and metric by metric (bench/run_bench_pipeline_gpu.sh); the predictor and PCA
#     benchmarks beside PyTorch (n = 200, 1000); compute-sanitizer memcheck over the kernel tests
#     and racecheck over the kernels with shared memory and barriers (conv2d, bias, reduce_sum,
#     attention, layer_norm, mse_loss, the PCA kernels); memcheck over the PCA device tests; 20
#     epochs within 0.2 points of the CPU backend's accuracy.
#   no --stage: both, one after the other (up to 11 minutes: too long for one 10-minute command).
# Every step has its own time limit, cut to what is left of its stage's budget (a step that would
# get less than 20 s is skipped, saying so), and prints its PASS/FAIL/SKIPPED line when it ends.
#
# Libraries: the system's where CMake finds them as CMakeLists.txt does (a probe project,
# tools/gpu-env.sh), the rest from the bundle .gpu/ (tools/gpu-bundle.sh, run where apt works),
# unpacked under ${TMPDIR:-/tmp}/twp-gpu-prefix (TWP_GPU_PREFIX) with CMake, the linker, the loader
# and the plots' font pointed at it. apt-get is never called when the bundle is there; without
# one, tools/setup-deps.sh runs where apt-get exists. MNIST: data/mnist, else the bundle's gzipped
# files copied there (the IDX reader reads gzip; the tests look in data/mnist too), else
# tools/fetch-data.sh for at most a minute. The PyTorch peers run on the first python3 whose torch
# sees the GPU (TWP_PYTHON, python3 on PATH, /usr/bin/python3, conda and venv ones), exported as
# TWP_PYTHON for the bench/run_bench_*_gpu.sh scripts. TWP_GPU_BUNDLE_ONLY=1 takes every library
# from the bundle (should a system library misbehave).
#
# --out DIR (default build-gpu/gpu-check; nothing is written without a GPU unless --out is given):
# report.txt (rewritten after every step, so that an interrupted run still leaves one),
# stage1.log, stage2.log (every step's full output), build.log, sanitizer.log, benchmarks.json
# (one object, one key per benchmark): at most 6 files, no folders. The console gets the step
# lines, the last lines of what failed, the benchmarks' headline figures, and the report.
# Without a GPU (nvidia-smi missing or failing) the report says so and the exit status is 0;
# otherwise it is 1 when any step failed.
#   usage: tools/gpu-check.sh [--stage 1|2] [--out DIR] [--quick] [--build DIR]
#   --quick: 1 s per benchmark measurement, the PCA at n = 200 only, no 20-epoch run
# shellcheck disable=SC2317  # the stages are called as "stage_$stage", which shellcheck cannot follow
set -uo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
# shellcheck source=tools/gpu-env.sh
source tools/gpu-env.sh

usage() { sed -n 's/^#   usage: //p; s/^#   --quick/--quick/p' "${BASH_SOURCE[0]}"; }
stages=(1 2)
out=""
quick=0
build=$root/build-gpu
while (($#)); do
    case $1 in
        --stage)
            [[ ${2:-} == 1 || ${2:-} == 2 ]] || { usage >&2; exit 2; }
            stages=("$2"); shift 2 ;;
        --out) [[ -n ${2:-} ]] || { usage >&2; exit 2; }; out=$(realpath -m "$2"); shift 2 ;;
        --quick) quick=1; shift ;;
        --build) [[ -n ${2:-} ]] || { usage >&2; exit 2; }; build=$(realpath -m "$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
declare -A stage_budget=([1]=360 [2]=300)
bundle=$root/.gpu
prefix=${TWP_GPU_PREFIX:-${TMPDIR:-/tmp}/twp-gpu-prefix}
state=$build/gpu-check.state   # stage 1's findings, for stage 2
started_all=$SECONDS
failed=0
report=()
environment=()
log=/dev/null

# ---- output ----
write_report() {
    [[ -n $out ]] || return 0
    {
        echo "twp gpu-check, stage(s) ${stages[*]}$( ((quick)) && echo ' --quick'), $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
            "tree $(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)$(
                [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$root" status --porcelain --untracked-files=no 2> /dev/null) ]] &&
                    echo ' (modified)')"
        printf '%s\n' "${environment[@]}"
        echo
        printf '%s\n' "${report[@]}"
        echo
        echo "$((SECONDS - started_all)) s so far; $( ((failed)) && echo 'FAILED' || echo 'no failures')"
    } > "$out/report.txt"
}
# found LINE: one line of what the machine has, on the console, in the log and in the report.
found() { environment+=("  $1"); echo "  $1" | tee -a "$log"; }
record() { report+=("$1"); echo "$1" | tee -a "$log"; write_report; }
skip() { record "SKIPPED $1: $2"; }

# step NAME LIMIT COMMAND...: COMMAND with `timeout`, at most LIMIT seconds and what is left of
# the stage; its output goes to $step_output (the stage log unless set); PASS/FAIL/SKIPPED with
# the time. On failure the console gets the output's last lines.
step_output=""
step() {
    local name=$1 limit=$2 left started rc output first
    shift 2
    left=$((stage_deadline - SECONDS))
    if ((left < 20)); then
        skip "$name" "no time left in stage $stage's ${stage_budget[$stage]} s"
        return 1
    fi
    ((limit > left)) && limit=$left
    output=${step_output:-$log}
    echo
    echo "==== $name (limit $limit s)" | tee -a "$log"
    [[ $output == "$log" ]] || echo "==== $name" >> "$output"
    first=$(($(wc -l < "$output") + 1))   # the step's own output starts here
    started=$SECONDS
    timeout -k 10 "$limit" "$@" >> "$output" 2>&1
    rc=$?
    [[ $output == "$log" ]] || tail -n 200 "$output" >> "$log"
    if ((rc == 0)); then
        record "PASS    $name ($((SECONDS - started)) s)"
    else
        echo "---- its last lines (rc $rc; all of it in $(basename "$([[ $output == "$out"/* ]] && echo "$output" || echo "$log")")):"
        tail -n +"$first" "$output" | tail -n 25 | cut -c 1-300
        if ((rc == 124 || rc == 137)); then
            record "FAIL    $name (timed out after $limit s)"
        else
            record "FAIL    $name (exit $rc, $((SECONDS - started)) s)"
        fi
        failed=1
    fi
    return "$rc"
}

# ---- what this machine has ----
gpu_name=""
if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then
    gpu_name=$(nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader | head -n 1)
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '. ')
    [[ -n $out ]] || out=$build/gpu-check
fi
if [[ -n $out ]]; then
    mkdir -p "$out" || { echo "gpu-check: cannot create $out" >&2; exit 1; }
fi
echo "==== gpu-check: stage(s) ${stages[*]}, ${out:+output in $out}"

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cxx=$(command -v c++ || command -v g++ || echo "")
ninja=$(command -v ninja || command -v ninja-build || echo "")
sanitizer=$(command -v compute-sanitizer || { [[ -x ${nvcc%/*}/compute-sanitizer ]] && echo "${nvcc%/*}/compute-sanitizer"; } || echo "")
first_line() { "$@" 2>&1 | grep -m 1 . ; }

# Library groups: the system's (the probe), else the bundle's. Stage 2 reuses stage 1's answer.
system_groups=""
python=""
discover_environment() {
    local bundle_groups=() group cached=0 glibc needed
    found "GPU: ${gpu_name:-none (nvidia-smi missing or failing)}"
    if [[ -x $nvcc ]]; then
        found "nvcc: $nvcc, $("$nvcc" --version | grep -o 'release [0-9.]*, V[0-9.]*')"
    else
        found "nvcc: none"
    fi
    found "C++ compiler: ${cxx:-none} ($( [[ -n $cxx ]] && first_line "$cxx" --version))"
    found "CMake: $(first_line cmake --version || echo none); Ninja: ${ninja:-none (Makefiles)}; $(nproc) cores"
    found "compute-sanitizer: ${sanitizer:-none}"
    glibc=$(getconf GNU_LIBC_VERSION 2> /dev/null | awk '{print $2}')
    if [[ -f $bundle/MANIFEST ]]; then
        needed=$(awk '$1 == "glibc" {sub("GLIBC_", "", $3); print $3}' "$bundle/MANIFEST")
        if twp_gpu_verify_bundle "$bundle" --sha >> "$log" 2>&1; then
            found "bundle: $bundle, complete ($(du -sh "$bundle" | cut -f 1)); its libraries need glibc >= $needed, this machine has ${glibc:-unknown}"
        else
            found "bundle: $bundle does not match its MANIFEST (see the log): not used"
            bundle=""
        fi
        if [[ -n $glibc && -n $needed && $(printf '%s\n' "$needed" "$glibc" | sort -V | head -n 1) != "$needed" ]]; then
            found "WARNING: glibc $glibc is older than the bundle's $needed: its libraries will not load"
        fi
    else
        found "bundle: none ($bundle/MANIFEST missing; tools/gpu-bundle.sh makes it)"
        bundle=""
    fi
    if [[ -f $state ]] && [[ -z $bundle || $state -nt $bundle/MANIFEST ]]; then
        # shellcheck disable=SC1090
        source "$state"
        cached=1
    elif [[ -n $bundle && ${TWP_GPU_BUNDLE_ONLY:-0} == 1 ]]; then
        system_groups=""
    elif [[ -n $bundle && -n $cxx ]]; then
        local probe_log
        probe_log=$(mktemp)
        system_groups=$(twp_gpu_probe_system "$probe_log" "$cxx")
        grep -E "twp-probe|Error" "$probe_log" | sed 's/^/    probe: /' >> "$log"
        rm -f "$probe_log"
    fi
    if [[ -n $bundle ]]; then
        for group in "${twp_gpu_groups[@]}"; do
            if [[ " $system_groups " == *" $group "* ]]; then
                found "${twp_gpu_group_what[$group]}: the system's"
            else
                bundle_groups+=("$group")
                found "${twp_gpu_group_what[$group]}: the bundle's"
            fi
        done
        if ((${#bundle_groups[@]})); then
            twp_gpu_unpack "$bundle" "$prefix" "${bundle_groups[@]}" >> "$log" 2>&1 ||
                found "ERROR: unpacking the bundle into $prefix failed (see the log)"
            TWP_GPU_LD_FILTER=1 twp_gpu_env "$prefix" "${bundle_groups[@]}"
            found "prefix: $prefix; loader path: ${twp_gpu_ld_exposed[*]:-nothing}${twp_gpu_ld_kept[*]:+; left to the system: ${twp_gpu_ld_kept[*]}}"
            [[ -n ${TWP_PLOT_FONT:-} ]] && found "TWP_PLOT_FONT=$TWP_PLOT_FONT"
        fi
    elif command -v apt-get > /dev/null && [[ $(id -u) == 0 ]]; then
        found "libraries: no bundle; tools/setup-deps.sh (apt-get) installs what is missing"
        timeout 300 tools/setup-deps.sh >> "$log" 2>&1 || found "WARNING: tools/setup-deps.sh failed (see the log)"
    else
        found "libraries: no bundle and no apt-get: the build finds what the system has, or fails"
    fi
    ((cached)) || python=$(find_python)
    if [[ -n $python ]]; then
        export TWP_PYTHON=$python
        found "PyTorch peers: TWP_PYTHON=$python ($(timeout 60 "$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)' 2> /dev/null))"
    else
        found "PyTorch peers: no python3 whose torch sees a GPU (the benchmarks run without them)"
    fi
    if ((!cached)) && [[ -n $gpu_name ]]; then
        mkdir -p "$build"
        printf 'system_groups=%q\npython=%q\n' "$system_groups" "$python" > "$state"
    fi
}
# find_python: the first python3 whose torch sees a GPU; what the others lack goes to the log.
find_python() {
    local candidate seen=" " real verdict
    local candidates=("${TWP_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3 /usr/local/bin/python3
        /opt/conda/bin/python3 /opt/conda/bin/python "$HOME"/miniconda3/bin/python3 "$HOME"/anaconda3/bin/python3
        /opt/*/bin/python3 "$HOME"/.venv/bin/python3 "$HOME"/venv/bin/python3 /usr/bin/python3.*[0-9] /usr/local/bin/python3.*[0-9])
    [[ -n $gpu_name ]] || { echo "    python: no GPU, no PyTorch peer needed" >> "$log"; return; }
    for candidate in "${candidates[@]}"; do
        [[ -n $candidate && -x $candidate ]] || continue
        real=$(realpath "$candidate")
        [[ $seen == *" $real "* ]] && continue
        seen+="$real "
        verdict=$(timeout 30 "$candidate" -c 'import torch; print("cuda" if torch.cuda.is_available() else "torch " + torch.__version__ + " without a usable GPU")' 2>&1 | tail -n 1)
        echo "    python: $candidate: ${verdict:-no answer in 30 s}" >> "$log"
        [[ $verdict == cuda ]] && { echo "$candidate"; return; }
    done
}

# ---- the stages ----
configured_for_this_gpu() {
    [[ -f $build/CMakeCache.txt ]] || return 1
    grep -q "^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=$arch$" "$build/CMakeCache.txt" || return 1
    grep -q "^TWP_BUILD_TESTS:BOOL=ON$" "$build/CMakeCache.txt" || return 1
    local generator
    generator=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$build/CMakeCache.txt")
    [[ -n $ninja && $generator == Ninja ]] || [[ -z $ninja && $generator == "Unix Makefiles" ]]
}
configure() {
    local generator=() rc
    [[ -n $ninja ]] && generator=(-G Ninja "-DCMAKE_MAKE_PROGRAM=$ninja")
    mkdir -p "$build"
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTWP_CUDA=ON -DTWP_BUILD_TESTS=ON \
        -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" "${twp_gpu_cmake_args[@]}" > "$build/configure.log" 2>&1
    rc=$?
    cat "$build/configure.log"
    ((rc == 0)) || return "$rc"
    grep -q "twp: CUDA ON" "$build/configure.log" || { echo "CMake did not enable CUDA"; return 1; }
}
# twp, every executable a `gpu` test runs (read from the CTest file, so a new GPU test is built
# too) and the GPU benchmarks.
targets=(twp twp_kernel_tests_gpu twp_cuda_backend_tests_gpu twp_pipeline_cuda_tests_gpu twp_pca_device_tests_gpu
    bench_lenet5_gpu bench_predictor_gpu bench_pca_gpu)
build_targets() {
    local name
    for name in $(grep -o '"[^"]*_gpu"' "$build/CTestTestfile.cmake" 2> /dev/null | tr -d '"' | xargs -r -n 1 basename); do
        [[ " ${targets[*]} " == *" $name "* ]] || targets+=("$name")
    done
    cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" && echo "built: ${targets[*]}"
}
# in_child FUNCTION: a bash -c command line that runs FUNCTION with what it uses (for `timeout`).
in_child() { echo "$(declare -p root build nvcc arch ninja targets twp_gpu_cmake_args); $(declare -f "$1"); $1"; }

# build_step LIMIT: configures only when build-gpu/ is not configured for this GPU (stage 2 on a
# warm machine reuses stage 1's), then builds (an up-to-date build takes seconds).
build_step() {
    local limit=$1
    if configured_for_this_gpu; then
        echo "reusing $build, configured for sm_$arch" | tee -a "$log"
    else
        rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
        step_output=$out/build.log step "configure $(basename "$build")/ for sm_$arch" 120 \
            bash -c "$(in_child configure)" || return 1
    fi
    step_output=$out/build.log step "build twp and the *_gpu targets for sm_$arch ($(nproc) jobs)" "$limit" \
        bash -c "$(in_child build_targets)" || { grep -E "error|Error" "$out/build.log" | head -n 20; return 1; }
}

mnist=""
find_mnist() {
    local name missing=0
    for name in "${twp_gpu_mnist_files[@]}"; do
        [[ -f data/mnist/$name || -f data/mnist/$name.gz ]] || missing=1
    done
    if ((missing)) && [[ -n $bundle && -d $bundle/mnist ]]; then
        mkdir -p data/mnist
        for name in "${twp_gpu_mnist_files[@]}"; do
            [[ -f data/mnist/$name || -f data/mnist/$name.gz ]] || cp "$bundle/mnist/$name.gz" data/mnist/
        done
        found "MNIST: the bundle's gzipped files, copied to data/mnist"
    elif ((missing)); then
        timeout 60 tools/fetch-data.sh >> "$log" 2>&1 || true
    fi
    missing=0
    for name in "${twp_gpu_mnist_files[@]}"; do
        [[ -f data/mnist/$name || -f data/mnist/$name.gz ]] || missing=1
    done
    if ((missing)); then
        found "MNIST: none (no data/mnist, no bundle, tools/fetch-data.sh failed): the MNIST steps are skipped"
    else
        mnist=$root/data/mnist
    fi
}

# bench_step NAME LIMIT KEY COMMAND...: a benchmark script's JSON goes into benchmarks.json under
# KEY, its headline figures to the console.
bench_step() {
    local name=$1 limit=$2 key=$3 json
    shift 3
    json=$(mktemp)
    step_output=$json step "$name" "$limit" "$@"
    local rc=$?
    # The JSON object is what follows the step's header line.
    sed -i '1d' "$json"
    if [[ -n $python ]] || command -v python3 > /dev/null; then
        "${python:-python3}" - "$out/benchmarks.json" "$key" "$json" <<'PY' 2>&1 | tee -a "$log"
import json, sys
path, key, result = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
try:
    everything = json.load(open(path))
except (OSError, ValueError):
    everything = {}
try:
    value = json.loads(result)
except ValueError:
    value = {"unparsed_output": result[-4000:]}
everything[key] = value
json.dump(everything, open(path, "w"), indent=1)
if isinstance(value, dict):
    headline = {k: value[k] for k in ("ratios", "agree", "speedup_wall", "wall_seconds", "speedup_per_stage",
                                      "largest_relative_differences") if k in value}
    if "pytorch" in value and isinstance(value["pytorch"], dict) and "skipped" in value["pytorch"]:
        headline["pytorch"] = value["pytorch"]
    if headline:
        print("  " + key + ": " + json.dumps(headline))
PY
    else
        cat "$json" >> "$out/benchmarks.json"
    fi
    rm -f "$json"
    return "$rc"
}

sanitize_step() {
    local name=$1 limit=$2
    shift 2
    step_output=$out/sanitizer.log step "$name" "$limit" "$@"
    local rc=$?
    grep -E "(ERROR|RACECHECK) SUMMARY" "$out/sanitizer.log" | tail -n 1 | sed 's/^/  /'
    return "$rc"
}

stage_1() {
    build_step 270 || return
    find_mnist
    step "ctest -L gpu (kernels, the CUDA backend, its PCA, the whole experiment on the GPU)" 150 \
        ctest --test-dir "$build" -L gpu -j 4 --output-on-failure --timeout 140
    if [[ -n $mnist ]]; then
        local snapshots=$build/gpu_check_snapshots
        # shellcheck disable=SC2016  # the script's own arguments
        step "twp --mode train_base, 1 epoch on the GPU (CLI)" 60 bash -c '
            rm -rf "$2" && "$1" --mode train_base --num_runs 1 --training_epochs 1 --data_dir "$3" \
                --snapshot_dir "$2" > "$4" 2>&1
            rc=$?
            cat "$4"
            ((rc == 0)) || exit "$rc"
            grep -q "the experiment runs on it" "$4" || { echo "gpu-check: twp did not run on the GPU"; exit 1; }' _ \
            "$build/twp" "$snapshots" "$mnist" "$build/gpu_check_train.log"
        grep -E "^twp: CUDA|accuracy" "$build/gpu_check_train.log" | tail -n 3 | cut -c 1-200 | sed 's/^/  /'
    else
        skip "twp --mode train_base, 1 epoch on the GPU (CLI)" "no MNIST"
    fi
    bench_step "bench/run_bench_lenet5_gpu.sh 1 (LeNet-5 training beside PyTorch)" 90 lenet5 \
        bench/run_bench_lenet5_gpu.sh 1 "$build"
}

stage_2() {
    build_step 200 || return
    find_mnist
    local seconds=3 pca_sizes=200,1000
    ((quick)) && { seconds=1; pca_sizes=200; }
    if [[ -n $mnist ]]; then
        bench_step "twp --mode full on the GPU and on the CPU: same files, metrics within tolerance, time per stage" 120 \
            pipeline bench/run_bench_pipeline_gpu.sh --build "$build" --num_runs 1 --training_epochs 1 \
            --snapshots_per_epoch 20 --apply_pca --n_components 8 --predictor_epochs 10
    else
        skip "twp --mode full on the GPU and on the CPU" "no MNIST"
    fi
    bench_step "bench/run_bench_predictor_gpu.sh $seconds (predictor step beside PyTorch)" 75 predictor \
        bench/run_bench_predictor_gpu.sh "$seconds" "$build"
    bench_step "bench/run_bench_pca_gpu.sh $pca_sizes (PCA fit beside PyTorch)" 75 pca \
        bench/run_bench_pca_gpu.sh "$pca_sizes" "$build"
    if [[ -z $sanitizer ]]; then
        skip "compute-sanitizer" "not found on PATH or beside nvcc"
    else
        sanitize_step "compute-sanitizer memcheck: twp_kernel_tests_gpu" 120 \
            "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full "$build/twp_kernel_tests_gpu"
        # racecheck: shared-memory hazards, so only the kernels that use shared memory and barriers.
        sanitize_step "compute-sanitizer racecheck: [conv2d],[bias],[reduce_sum]" 75 \
            "$sanitizer" --tool racecheck --error-exitcode 1 --racecheck-report hazard \
            "$build/twp_kernel_tests_gpu" "[conv2d],[bias],[reduce_sum]"
        sanitize_step "compute-sanitizer racecheck: [attention],[layer_norm],[mse_loss]" 75 \
            "$sanitizer" --tool racecheck --error-exitcode 1 --racecheck-report hazard \
            "$build/twp_kernel_tests_gpu" "[attention],[layer_norm],[mse_loss]"
        sanitize_step "compute-sanitizer racecheck: the PCA kernels" 45 \
            "$sanitizer" --tool racecheck --error-exitcode 1 --racecheck-report hazard \
            "$build/twp_pca_device_tests_gpu" "PCA kernels*"
        sanitize_step "compute-sanitizer memcheck: twp_pca_device_tests_gpu" 90 \
            "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full "$build/twp_pca_device_tests_gpu"
    fi
    if ((quick)); then
        skip "20 epochs against the CPU backend's accuracy" "--quick"
    elif [[ -z $mnist ]]; then
        skip "20 epochs against the CPU backend's accuracy" "no MNIST"
    else
        step "20 epochs on the GPU within 0.2 points of the CPU backend's accuracy" 120 \
            "$build/twp_cuda_backend_tests_gpu" "[long]" --success --durations yes
    fi
}

finish() {
    echo
    echo "==== gpu-check report ($((SECONDS - started_all)) s in all)"
    printf '%s\n' "${environment[@]}"
    printf '%s\n' "${report[@]}"
    write_report
    [[ -n $out ]] && echo "(written to $out: $(find "$out" -maxdepth 1 -type f -printf '%f ' | sort))"
    exit "$failed"
}

for stage in "${stages[@]}"; do
    stage_deadline=$((SECONDS + stage_budget[$stage]))
    log=/dev/null
    [[ -n $out ]] && { log=$out/stage$stage.log; : > "$log"; }
    echo
    echo "==== stage $stage (at most ${stage_budget[$stage]} s)" | tee -a "$log"
    if ((${#environment[@]} == 0)); then
        discover_environment
    fi
    if [[ -z $gpu_name ]]; then
        skip "stage $stage" "no NVIDIA GPU or driver here (nvidia-smi missing or failing)"
        continue
    fi
    if [[ ! -x $nvcc ]]; then
        skip "stage $stage" "no nvcc (CUDA toolkit) on this machine"
        continue
    fi
    "stage_$stage"
done
finish
