#!/usr/bin/env bash
# Fuzzes twp's input parsers with libFuzzer: the IDX reader (raw and gzip), the safetensors reader
# and the command-line parser (the targets are tests/fuzz/fuzz_*.cpp). Each target is built with
# clang++-14 -fsanitize=fuzzer,address,undefined into build-fuzz/ straight from the project
# sources it needs (the default GCC build is untouched), then run for --seconds N (default 60) on
# a copy of its committed seed corpus (tests/fuzz/corpus/<target>/, never modified here) with its
# dictionary. Any crash, sanitizer report, leak, hang (> 10 s on one input) or out-of-memory
# (> 2048 MB) fails the script; the offending input is kept under build-fuzz/artifacts/<target>/
# and its path printed. At the end, per target: executions, coverage (libFuzzer's cov: edges and
# ft: features of its final line) and executions per second.
#   tools/fuzz.sh [--seconds N] [TARGET...]   e.g. tools/fuzz.sh --seconds 10 fuzz_idx
# To replay a crash: build-fuzz/<target> build-fuzz/artifacts/<target>/crash-...
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

seconds=60
targets=()
while (($# > 0)); do
    case $1 in
        --seconds) [[ $# -ge 2 ]] || { echo "fuzz: --seconds needs a value" >&2; exit 2; }
            seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        fuzz_idx | fuzz_safetensors | fuzz_args) targets+=("$1"); shift ;;
        *) echo "fuzz: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds wants a positive integer, got '$seconds'" >&2; exit 2; }
((${#targets[@]} > 0)) || targets=(fuzz_idx fuzz_safetensors fuzz_args)

tools/setup-deps.sh --fuzz
cxx=clang++-14
command -v "$cxx" > /dev/null || { echo "fuzz: $cxx not found (tools/setup-deps.sh --fuzz installs clang-14)" >&2; exit 1; }

# The project sources each target links (and zlib); the fuzz target itself is
# tests/fuzz/<target>.cpp.
declare -A sources=(
    [fuzz_idx]="engine/idx.cpp"
    [fuzz_safetensors]="engine/safetensors.cpp engine/atomic_file.cpp"
    [fuzz_args]="experiment/config.cpp"
)

# -O1 -g: fast enough, and stack traces name lines. _GLIBCXX_ASSERTIONS bounds-checks the
# standard containers' operator[] too, which ASan misses inside a vector's spare capacity.
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -D_GLIBCXX_ASSERTIONS -Wall -Wextra -I"$root")
build_dir="$root/build-fuzz"
mkdir -p "$build_dir"
# build TARGET: one clang++ call, its messages in build-fuzz/TARGET.build.log.
build() {
    local target=$1
    # shellcheck disable=SC2086  # the source list splits on purpose
    "$cxx" "${flags[@]}" -o "$build_dir/$target" "tests/fuzz/$target.cpp" ${sources[$target]} -lz \
        > "$build_dir/$target.build.log" 2>&1
}
# Two compilers at a time at most (shared 2-core CI machines): the slowest build (safetensors,
# nlohmann/json) in the background, the others one after another beside it.
started=$SECONDS
pids=()
for target in "${targets[@]}"; do
    if [[ $target == fuzz_safetensors ]]; then
        build "$target" &
        pids+=($!)
    fi
done
build_failed=()
for target in "${targets[@]}"; do
    [[ $target == fuzz_safetensors ]] && continue
    build "$target" || build_failed+=("$target")
done
for pid in "${pids[@]}"; do wait "$pid" || build_failed+=(fuzz_safetensors); done
for target in "${build_failed[@]}"; do
    cat "$build_dir/$target.build.log" >&2
    echo "fuzz: building $target failed" >&2
done
((${#build_failed[@]} == 0)) || exit 1
echo "fuzz: built ${targets[*]} in $((SECONDS - started)) s"

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/twp-fuzz.XXXXXX")
trap 'rm -rf -- "$work_dir"' EXIT
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
declare -A summary=()
for target in "${targets[@]}"; do
    corpus="$work_dir/$target/corpus"
    artifacts="$build_dir/artifacts/$target"
    log="$build_dir/$target.log"
    rm -rf -- "$artifacts"  # only this run's failing inputs are listed below
    mkdir -p "$corpus" "$artifacts"
    cp -- tests/fuzz/corpus/"$target"/* "$corpus"/
    dict=()
    [[ -f tests/fuzz/$target.dict ]] && dict=(-dict="tests/fuzz/$target.dict")
    echo "fuzz: running $target for $seconds s on a copy of tests/fuzz/corpus/$target"
    rc=0
    "$build_dir/$target" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" > "$log" 2>&1 || rc=$?
    # The last status line, e.g. "#123456 DONE cov: 345 ft: 1234 corp: 56/1234b ... exec/s: 2000".
    status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' <<< "$status" | cut -d' ' -f2 || true)
    ft=$(grep -oE 'ft: [0-9]+' <<< "$status" | cut -d' ' -f2 || true)
    corp=$(grep -oE 'corp: [0-9]+' <<< "$status" | cut -d' ' -f2 || true)
    summary[$target]=$(printf '%-17s %12s %8s %8s %8s %9s' "$target" "${execs:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "${rate:-?}")
    if ((rc != 0)); then
        failed+=("$target")
        tail -n 60 "$log" >&2
        echo "fuzz: $target FAILED (exit $rc); full log: $log" >&2
        found=0
        for input in "$artifacts"/{crash,leak,timeout,oom}-*; do
            [[ -e $input ]] || continue
            found=1
            echo "fuzz: $target: failing input: $input (replay: $build_dir/$target $input)" >&2
        done
        ((found)) || echo "fuzz: $target: no input was saved; see the log" >&2
    fi
done

echo
printf '%-17s %12s %8s %8s %8s %9s\n' target executions cov ft corpus exec/s
for target in "${targets[@]}"; do echo "${summary[$target]}"; done
if ((${#failed[@]} > 0)); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crash, leak or hang in ${targets[*]} ($seconds s each)"
