# shellcheck shell=bash disable=SC2034  # the variables are the sourcing scripts'
# The GPU bundle's contents and how to use it, sourced (never run) by tools/gpu-bundle.sh (which
# fills .gpu/), tools/gpu-check.sh (on the GPU machine) and tools/gpu-bundle-check.sh (CI's proof
# that a build from the bundle alone works), so that all three unpack and point the build at it
# the same way.
#
# The bundle (.gpu/, git-ignored): debs/*.deb (Debian 12 packages fetched with apt-get download),
# mnist/*.gz (the four IDX files, gzipped: the IDX reader reads gzip), and MANIFEST, one line per
# file:
#   deb   GROUP PACKAGE VERSION debs/FILE BYTES SHA256
#   mnist -     NAME    -       mnist/FILE BYTES SHA256
#   glibc -     GLIBC_X.Y -     -          0     -      (the newest glibc symbol version needed)
# Packages come in groups, each used as a whole from the system or from the bundle (a BLAS from
# one place and its LAPACKE from another is asking for trouble). Dependencies outside the groups
# are assumed on any machine that can compile C++: glibc and its headers, libgcc_s, libstdc++
# (twp_gpu_base_packages; tools/gpu-bundle.sh checks every Depends: against both lists).
#
# Unpacked into a prefix (never /: dpkg-deb -x, or ar + tar where dpkg is missing), then
# twp_gpu_env PREFIX GROUP... exports what the build and the programs need:
#   twp_gpu_cmake_args   (array) CMAKE_PREFIX_PATH, CMAKE_LIBRARY_PATH, CMAKE_INCLUDE_PATH (the
#                        Debian alternatives' symlinks, e.g. libopenblas.so, do not exist after
#                        dpkg -x: the OpenBLAS directories are named), -rpath-link for the linker
#   LD_LIBRARY_PATH      PREFIX/ld first: links to the bundle's shared libraries (with
#                        TWP_GPU_LD_FILTER=1, only those whose soname the system lacks, so that e.g.
#                        the bundle's libz.so.1 never shadows a newer system one under PyTorch)
#   TWP_PLOT_FONT        DejaVu Sans from the bundle (experiment/canvas.cpp reads it)

twp_gpu_groups=(blas zlib json stb catch2 font)
declare -gA twp_gpu_group_packages=(
    [blas]="libopenblas-pthread-dev libopenblas0-pthread liblapacke-dev liblapacke libtmglib-dev libtmglib3 libgfortran5 libquadmath0"
    [zlib]="zlib1g-dev zlib1g"
    [json]="nlohmann-json3-dev"
    [stb]="libstb-dev libstb0"
    [catch2]="catch2"
    [font]="fonts-dejavu-core"
)
declare -gA twp_gpu_group_what=(
    [blas]="OpenBLAS (BLAS + LAPACK), LAPACKE, libgfortran"
    [zlib]="zlib"
    [json]="nlohmann-json"
    [stb]="stb"
    [catch2]="Catch2 v2"
    [font]="DejaVu Sans"
)
# Satisfy the groups' Depends: without being in the bundle (see above).
twp_gpu_base_packages=(libc6 libc6-dev libc-dev libgcc-s1 gcc-12-base libstdc++6)
# Where experiment/canvas.cpp looks for the plots' font when TWP_PLOT_FONT is not set.
twp_gpu_font_paths=(
    /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
    /usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf
    /usr/share/fonts/dejavu/DejaVuSans.ttf
    /usr/share/fonts/TTF/DejaVuSans.ttf
    /usr/local/share/fonts/DejaVuSans.ttf
)
twp_gpu_bundle_font=usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
twp_gpu_mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
    t10k-labels-idx1-ubyte)

twp_gpu_sha256() { sha256sum "$1" | cut -d ' ' -f 1; }

# twp_gpu_verify_bundle BUNDLE [--sha]: every file of MANIFEST is there with its size (and, with
# --sha, its SHA-256); says what is wrong and returns 1 otherwise.
twp_gpu_verify_bundle() {
    local bundle=$1 check_sha=${2:-} kind group name version file bytes sha bad=0
    [[ -f $bundle/MANIFEST ]] || { echo "gpu-env: no $bundle/MANIFEST (run tools/gpu-bundle.sh where apt works)"; return 1; }
    while read -r kind group name version file bytes sha; do
        [[ $kind == deb || $kind == mnist ]] || continue
        if [[ ! -f $bundle/$file ]]; then
            echo "gpu-env: $bundle/$file missing (MANIFEST lists it)"
            bad=1
        elif [[ $(stat -c %s "$bundle/$file") != "$bytes" ]]; then
            echo "gpu-env: $bundle/$file has $(stat -c %s "$bundle/$file") bytes, MANIFEST says $bytes (truncated copy?)"
            bad=1
        elif [[ $check_sha == --sha && $(twp_gpu_sha256 "$bundle/$file") != "$sha" ]]; then
            echo "gpu-env: $bundle/$file does not match its SHA-256 in MANIFEST"
            bad=1
        fi
    done < "$bundle/MANIFEST"
    return "$bad"
}

# twp_gpu_manifest_files BUNDLE GROUP...: the bundle's .deb files of these groups, one per line.
twp_gpu_manifest_files() {
    local bundle=$1 kind group name version file rest
    shift
    while read -r kind group name version file rest; do
        [[ $kind == deb ]] || continue
        [[ " $* " == *" $group "* ]] && echo "$file"
    done < "$bundle/MANIFEST"
}

# twp_gpu_untar ARCHIVE DEST: tar with whichever decompressor exists (xz, zstd, gzip; Python's
# tarfile where tar cannot).
twp_gpu_untar() {
    local archive=$1 dest=$2
    case $archive in
        *.zst)
            if command -v zstd > /dev/null; then
                zstd -dc "$archive" | tar -x -C "$dest"
            else
                echo "gpu-env: $archive needs zstd, which is not here"
                return 1
            fi ;;
        *.xz) if command -v xz > /dev/null; then tar -xJf "$archive" -C "$dest"; else twp_gpu_untar_python "$archive" "$dest"; fi ;;
        *.gz) tar -xzf "$archive" -C "$dest" ;;
        *) tar -xf "$archive" -C "$dest" ;;
    esac
}
twp_gpu_untar_python() {
    local python
    python=$(command -v python3 || true)
    [[ -n $python ]] || { echo "gpu-env: cannot unpack $1: neither xz nor python3 here"; return 1; }
    "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
}

# twp_gpu_unpack_deb DEB DEST: the package's files under DEST (no maintainer scripts run).
twp_gpu_unpack_deb() {
    local deb=$1 dest=$2 work member
    if command -v dpkg-deb > /dev/null; then
        dpkg-deb -x "$deb" "$dest"
        return
    fi
    command -v ar > /dev/null || { echo "gpu-env: cannot unpack $deb: neither dpkg-deb nor ar (binutils) here"; return 1; }
    work=$(mktemp -d)
    (cd "$work" && ar x "$(realpath "$deb")") || { rm -rf "$work"; return 1; }
    member=$(find "$work" -maxdepth 1 -name 'data.tar*' | head -n 1)
    [[ -n $member ]] || { echo "gpu-env: $deb has no data.tar member"; rm -rf "$work"; return 1; }
    twp_gpu_untar "$member" "$dest" || { rm -rf "$work"; return 1; }
    rm -rf "$work"
}

# twp_gpu_unpack BUNDLE PREFIX GROUP...: unpacks the groups' packages into PREFIX, each once (a
# stamp per .deb in PREFIX/.unpacked), so a second call on a warm machine costs nothing.
twp_gpu_unpack() {
    local bundle=$1 prefix=$2 file stamp
    shift 2
    mkdir -p "$prefix/.unpacked" || return 1
    for file in $(twp_gpu_manifest_files "$bundle" "$@"); do
        stamp="$prefix/.unpacked/$(basename "$file")"
        [[ -f $stamp ]] && continue
        twp_gpu_unpack_deb "$bundle/$file" "$prefix" || { echo "gpu-env: unpacking $file failed"; return 1; }
        touch "$stamp"
    done
    # Absolute links (zlib1g-dev's libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) would lead
    # back to the system's copy, or nowhere: point them into the prefix.
    local link target
    while IFS= read -r -d '' link; do
        target=$(readlink "$link")
        [[ $target == "$prefix"/* ]] || ln -sfn "$prefix$target" "$link"
    done < <(find "$prefix" -type l -lname '/*' -print0)
}

# twp_gpu_multiarch PREFIX: the Debian multiarch directory name of the unpacked libraries
# (x86_64-linux-gnu).
twp_gpu_multiarch() {
    local dir
    for dir in "$1"/usr/lib/*-linux-gnu*; do
        [[ -d $dir ]] && { basename "$dir"; return; }
    done
    echo x86_64-linux-gnu
}

# twp_gpu_system_has_soname NAME: the dynamic loader finds NAME without our help.
twp_gpu_system_has_soname() {
    local name=$1 dir ldconfig
    if [[ -z ${twp_gpu_ldconfig_names+set} ]]; then
        ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
        twp_gpu_ldconfig_names=$("$ldconfig" -p 2> /dev/null | awk '{print $1}' || true)
    fi
    grep -qxF "$name" <<< "$twp_gpu_ldconfig_names" && return 0
    for dir in /lib64 /usr/lib64 /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib /usr/lib; do
        [[ -e $dir/$name ]] && return 0
    done
    return 1
}

# twp_gpu_env PREFIX GROUP...: the CMake arguments, LD_LIBRARY_PATH and TWP_PLOT_FONT for the
# groups unpacked in PREFIX (see the top of this file). Sets twp_gpu_ld_exposed (the libraries put
# on the loader path) and twp_gpu_ld_kept (those the system's own copy serves).
twp_gpu_env() {
    local prefix=$1 triplet lib file name
    shift
    twp_gpu_cmake_args=()
    twp_gpu_ld_exposed=()
    twp_gpu_ld_kept=()
    (($#)) || return 0
    triplet=$(twp_gpu_multiarch "$prefix")
    local libdirs=("$prefix/usr/lib/$triplet" "$prefix/usr/lib/$triplet/openblas-pthread" "$prefix/lib/$triplet"
        "$prefix/usr/lib")
    local incdirs=("$prefix/usr/include" "$prefix/usr/include/$triplet/openblas-pthread" "$prefix/usr/include/$triplet")
    local ld="$prefix/ld"
    rm -rf "$ld"
    mkdir -p "$ld"
    for lib in "${libdirs[@]}"; do
        [[ -d $lib ]] || continue
        for file in "$lib"/*.so.*; do
            [[ -e $file ]] || continue
            name=$(basename "$file")
            # OpenBLAS's libblas.so.3 / liblapack.so.3 go with the bundle's LAPACKE whatever the
            # system has; anything else the system has stays the system's.
            if [[ ${TWP_GPU_LD_FILTER:-0} == 1 && $name != libblas.so.3 && $name != liblapack.so.3 ]] &&
                twp_gpu_system_has_soname "$name"; then
                twp_gpu_ld_kept+=("$name")
                continue
            fi
            ln -sfn "$file" "$ld/$name"
            twp_gpu_ld_exposed+=("$name")
        done
    done
    local IFS=';'
    twp_gpu_cmake_args=(
        "-DCMAKE_PREFIX_PATH=$prefix/usr"
        "-DCMAKE_LIBRARY_PATH=${libdirs[*]}"
        "-DCMAKE_INCLUDE_PATH=${incdirs[*]}"
        "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$ld"
        "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-rpath-link,$ld"
    )
    unset IFS
    export LD_LIBRARY_PATH="$ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if [[ " $* " == *" font "* ]]; then
        export TWP_PLOT_FONT="$prefix/$twp_gpu_bundle_font"
    fi
}

# twp_gpu_probe_system LOG CXX [CMAKE_ARGS...]: which groups this machine provides by itself,
# found the way CMakeLists.txt finds them (a tiny CMake project: OpenBLAS as BLA_VENDOR, LAPACK,
# cblas.h, lapacke.h and liblapacke, ZLIB, nlohmann_json 3, Catch2 2, stb's headers), plus the
# font. Prints the groups the system has, space-separated; CMake's output goes to LOG.
twp_gpu_probe_system() {
    local log=$1 cxx=$2 dir groups=() path
    shift 2
    dir=$(mktemp -d)
    cat > "$dir/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(twp_probe LANGUAGES CXX)
find_package(OpenMP COMPONENTS CXX)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
find_path(PROBE_CBLAS cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu)
find_package(LAPACK)
find_path(PROBE_LAPACKE_H lapacke.h PATH_SUFFIXES openblas x86_64-linux-gnu)
find_library(PROBE_LAPACKE lapacke)
find_package(ZLIB)
find_package(nlohmann_json 3 QUIET)
find_package(Catch2 2 QUIET)
find_path(PROBE_STB stb/stb_image_write.h)
set(groups)
if(BLAS_FOUND AND LAPACK_FOUND AND PROBE_CBLAS AND PROBE_LAPACKE_H AND PROBE_LAPACKE)
  list(APPEND groups blas)
endif()
if(ZLIB_FOUND)
  list(APPEND groups zlib)
endif()
if(nlohmann_json_FOUND)
  list(APPEND groups json)
endif()
if(Catch2_FOUND)
  list(APPEND groups catch2)
endif()
if(PROBE_STB)
  list(APPEND groups stb)
endif()
list(JOIN groups " " groups)
message(STATUS "twp-probe-groups: ${groups}")
message(STATUS "twp-probe-found: BLAS ${BLAS_LIBRARIES} | LAPACK ${LAPACK_LIBRARIES} | cblas.h ${PROBE_CBLAS} | lapacke ${PROBE_LAPACKE_H} ${PROBE_LAPACKE} | zlib ${ZLIB_LIBRARIES} | nlohmann_json ${nlohmann_json_DIR} | Catch2 ${Catch2_DIR} | stb ${PROBE_STB}")
CMAKE
    if timeout 120 cmake -S "$dir" -B "$dir/build" -DCMAKE_CXX_COMPILER="$cxx" "$@" > "$log" 2>&1; then
        read -r -a groups <<< "$(sed -n 's/^-- twp-probe-groups: //p' "$log")"
    fi
    rm -rf "$dir"
    if [[ -n ${TWP_PLOT_FONT:-} && -f $TWP_PLOT_FONT ]]; then
        groups+=(font)
    else
        for path in "${twp_gpu_font_paths[@]}"; do
            [[ -f $path ]] && { groups+=(font); break; }
        done
    fi
    echo "${groups[*]}"
}
