#!/usr/bin/env bash
# CI's proof that the GPU bundle (.gpu/, tools/gpu-bundle.sh) is complete, so that a missing
# package fails here and not in the short window on the GPU machine. On this machine (which has
# every package installed), it unpacks the whole bundle into a temporary prefix exactly as
# tools/gpu-check.sh does (tools/gpu-env.sh), then:
#   1. configures with CMake's search restricted to that prefix: CMAKE_FIND_ROOT_PATH = the prefix
#      and the CUDA toolkit, with the LIBRARY, INCLUDE and PACKAGE modes ONLY (programs are found
#      as usual; OpenMP's libgomp comes with the compiler, FindOpenMP searches its directories
#      itself; glibc's librt, which FindCUDAToolkit looks for, is given from the compiler's own
#      search path), so that a package missing from the bundle fails find_package/find_path/
#      find_library;
#   2. reads CMakeCache.txt: BLAS, LAPACK, cblas.h, LAPACKE, zlib, nlohmann_json, Catch2 and stb
#      must all have been found inside the prefix;
#   3. builds twp and twp_kernel_tests_gpu for sm_90 only;
#   4. audits the headers every object was compiled with (the compiler searches /usr/include
#      whatever CMake found, so a header there could mask a package the bundle lacks): each one
#      outside the tree, the build, the prefix and the CUDA toolkit must belong to glibc, the
#      kernel headers or the compiler (dpkg -S);
#   5. audits the loader: with LD_LIBRARY_PATH at the prefix (as gpu-check.sh sets it), every
#      shared library twp and the test need resolves inside the prefix or the CUDA toolkit, except
#      glibc's, libstdc++, libgcc_s and libgomp (they come with the compiler);
#   6. runs twp --help that way.
# Prints each phase's time; exits 1 with the reason at the first failure.
#   usage: tools/gpu-bundle-check.sh [--bundle DIR (default .gpu)] [--build DIR (default
#          build-bundle-check)] [--keep (leave the prefix and the build)]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tools/gpu-env.sh
source tools/gpu-env.sh
bundle=$root/.gpu
build=$root/build-bundle-check
keep=0
while (($#)); do
    case $1 in
        --bundle) bundle=$(realpath "$2"); shift 2 ;;
        --build) build=$(realpath -m "$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: tools/gpu-bundle-check.sh [--bundle DIR] [--build DIR] [--keep]" >&2; exit 2 ;;
    esac
done
say() { echo "gpu-bundle-check: $*"; }
die() { echo "gpu-bundle-check: FAIL: $*" >&2; exit 1; }
started=$SECONDS
phase_started=$SECONDS
phase_done() { say "$1 ($((SECONDS - phase_started)) s)"; phase_started=$SECONDS; }

twp_gpu_verify_bundle "$bundle" --sha || die "the bundle does not match its MANIFEST: run tools/gpu-bundle.sh"
prefix=$(mktemp -d "${TMPDIR:-/tmp}/twp-bundle-check.XXXXXX")
((keep)) || trap 'rm -rf "$prefix"' EXIT
twp_gpu_unpack "$bundle" "$prefix" "${twp_gpu_groups[@]}" || die "unpacking the bundle failed"
# No TWP_GPU_LD_FILTER: every bundled library goes on the loader path, the system's copies
# (all installed here) must not be what the programs load.
twp_gpu_env "$prefix" "${twp_gpu_groups[@]}"
phase_done "unpacked $(twp_gpu_manifest_files "$bundle" "${twp_gpu_groups[@]}" | wc -l) packages into $prefix"

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[[ -x $nvcc ]] || die "no nvcc (the proof builds the CUDA targets)"
cuda_root=$(dirname "$(dirname "$nvcc")")
cuda_roots="$cuda_root;$(realpath "$cuda_root")"
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
librt=$(c++ -print-file-name=librt.a)
rm -rf "$build"
mkdir -p "$build"
log=$build/bundle-check.log
if ! cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTWP_CUDA=ON \
    -DTWP_BUILD_TESTS=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 \
    "${twp_gpu_cmake_args[@]}" \
    "-DCMAKE_FIND_ROOT_PATH=$prefix;$cuda_roots" \
    -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
    -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
    -DCUDAToolkit_rt_LIBRARY="$librt" > "$log" 2>&1; then
    grep -B 2 -A 12 "CMake Error" "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
    die "configure with the search restricted to the bundle failed (a package missing from the bundle?); log: $log"
fi
grep -q "twp: CUDA ON" "$log" || die "CMake did not enable CUDA ($log)"
phase_done "configured with CMake's search restricted to the bundle (log: $log)"

# What CMake found, each inside the prefix.
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
for variable in BLAS_openblas_LIBRARY LAPACK_openblas_LIBRARY TWP_CBLAS_INCLUDE_DIR TWP_LAPACKE_INCLUDE_DIR \
    TWP_LAPACKE_LIBRARY ZLIB_INCLUDE_DIR ZLIB_LIBRARY_RELEASE nlohmann_json_DIR Catch2_DIR TWP_STB_INCLUDE_DIR; do
    value=$(cache_value "$variable")
    [[ -n $value && $value != *NOTFOUND* ]] || die "$variable not found (CMakeCache.txt)"
    # The path and what it resolves to (a symbolic link could lead back to the system).
    [[ $value == "$prefix"/* && $(realpath -m "$value") == "$prefix"/* ]] ||
        die "$variable is $value (-> $(realpath -m "$value")), outside the bundle's prefix"
    printf '  %-24s %s\n' "$variable" "${value#"$prefix"/}"
done
phase_done "CMakeCache.txt: every package found in the bundle"

cmake --build "$build" -j "$(nproc)" --target twp twp_kernel_tests_gpu >> "$log" 2>&1 ||
    { grep -E -A 5 "error|Error" "$log" | head -n 40 >&2; die "build from the bundle failed; log: $log"; }
phase_done "built twp and twp_kernel_tests_gpu for sm_90"

# Headers: every one the compiler read (Ninja's deps log, else the .d files of the Makefiles).
if [[ -f $build/build.ninja ]]; then
    headers=$(ninja -C "$build" -t deps | sed -n 's/^    //p')
else
    headers=$(find "$build" -name '*.o.d' -exec cat {} + | sed 's/[\\]$//' | tr ' ' '\n' | grep -v ':$')
fi
mapfile -t outside < <(grep '^/' <<< "$headers" | xargs -r realpath -m -s | sort -u |
    grep -v -e "^$root/" -e "^$prefix/" -e "^$cuda_root/" -e "^$(realpath "$cuda_root")/" || true)
((${#outside[@]})) || die "no header list from the build (deps log missing?)"
owners=$(dpkg -S "${outside[@]}" 2> /dev/null || true)
bad=()
for header in "${outside[@]}"; do
    owner=$(awk -v h="$header" -F': ' '$2 == h {print $1; exit}' <<< "$owners")
    if [[ -z $owner ]]; then
        bad+=("$header (no package)")
    elif ! grep -Eq '^(libc6-dev|linux-libc-dev|libstdc\+\+-[0-9]+-dev|libgcc-[0-9]+-dev|libcrypt-dev)(:[a-z0-9]+)?$' <<< "${owner//, /$'\n'}"; then
        bad+=("$header ($owner)")
    fi
done
((${#bad[@]} == 0)) || die "headers read from the system instead of the bundle: ${bad[*]}"
phase_done "headers: ${#outside[@]} from outside the tree, prefix and CUDA, all glibc's, the kernel's or the compiler's"

# The loader, as gpu-check.sh sets it up.
for program in "$build/twp" "$build/twp_kernel_tests_gpu"; do
    while read -r name arrow path _; do
        [[ $arrow == "=>" ]] || continue
        [[ $path != "not" ]] || die "$(basename "$program") needs $name, which the loader does not find"
        case $path in
            "$prefix"/* | "$cuda_root"/* | "$(realpath "$cuda_root")"/*) ;;
            *) case $name in
                   libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*.so.* | \
                       libstdc++.so.* | libgcc_s.so.* | libgomp.so.*) ;;
                   *) die "$(basename "$program") loads $name from $path, not from the bundle" ;;
               esac ;;
        esac
    done < <(ldd "$program")
done
ldd "$build/twp" | grep -F "$prefix" | sed "s|$prefix/||; s/ (0x[0-9a-f]*)//; s/^\s*/  /"
"$build/twp" --help > /dev/null || die "twp --help failed with LD_LIBRARY_PATH at the bundle"
phase_done "loader: twp and twp_kernel_tests_gpu load the bundle's libraries; twp --help runs"
say "PASS: the bundle alone builds twp and twp_kernel_tests_gpu ($((SECONDS - started)) s in all)"
((keep)) && say "kept $prefix and $build"
exit 0
