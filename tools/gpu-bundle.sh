#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what a GPU machine without any package registry may lack, for
# tools/gpu-check.sh to use there: the Debian packages the build and the tests need, as .deb files
# fetched with apt-get download (the groups of tools/gpu-env.sh: OpenBLAS with its LAPACK,
# LAPACKE, libgfortran and what they pull in; zlib; nlohmann-json; stb; Catch2 v2; DejaVu Sans),
# and MNIST's four IDX files gzipped (from data/mnist, fetched with tools/fetch-data.sh when
# missing). Every package's Depends: must be met inside the bundle or by the base every compiler
# machine has (tools/gpu-env.sh: glibc, libgcc_s, libstdc++), or it stops. Writes .gpu/MANIFEST
# (each file with its size and SHA-256, and the newest glibc the libraries need), prints the
# bundle's size and exits 1 above 40 MiB (the whole copy to the GPU machine, tree included, must
# stay under 64 MiB; TWP_GPU_BUNDLE_LIMIT_MIB lowers the limit, for CI's test of the refusal).
# Run where apt works (Debian 12); a second run with nothing new is quick.
# tools/gpu-bundle-check.sh proves that twp builds from the bundle alone.
#   usage: tools/gpu-bundle.sh [BUNDLE_DIR, default .gpu]
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tools/gpu-env.sh
source tools/gpu-env.sh
bundle=$(realpath -m "${1:-$root/.gpu}")
readonly limit_mib=${TWP_GPU_BUNDLE_LIMIT_MIB:-40}
say() { echo "gpu-bundle: $*"; }
die() { echo "gpu-bundle: error: $*" >&2; exit 1; }
if ! command -v apt-get > /dev/null || ! command -v dpkg-deb > /dev/null; then
    die "needs apt-get and dpkg-deb (run it on Debian 12, where apt works)"
fi
started=$SECONDS
mkdir -p "$bundle/debs" "$bundle/mnist"
changed=0

# ---- the packages ----
declare -A group_of=()
packages=()
for group in "${twp_gpu_groups[@]}"; do
    for package in ${twp_gpu_group_packages[$group]}; do
        packages+=("$package")
        group_of[$package]=$group
    done
done
declare -A file_of=() version_of=()
candidates() {
    local package version architecture
    # One apt-cache call for all (each costs a second on a busy machine): Package, Version,
    # Architecture of every candidate record.
    while read -r package version architecture; do
        version_of[$package]=$version
        # apt-get download's file name: the epoch's colon is written %3a.
        file_of[$package]="${package}_${version//:/%3a}_${architecture}.deb"
    done < <(apt-cache show --no-all-versions "${packages[@]}" 2> /dev/null |
        awk -F': ' '$1 == "Package" {p = $2} $1 == "Version" {v = $2} $1 == "Architecture" {print p, v, $2}')
    for package in "${packages[@]}"; do
        [[ -n ${file_of[$package]:-} ]] || return 1
    done
}
if ! candidates; then
    say "refreshing the package lists (apt-get update)"
    apt-get update -q > /dev/null
    candidates || die "apt-cache knows no candidate for one of: ${packages[*]}"
fi
missing=()
for package in "${packages[@]}"; do
    [[ -f $bundle/debs/${file_of[$package]} ]] || missing+=("$package")
done
if ((${#missing[@]})); then
    say "downloading ${missing[*]}"
    # APT::Sandbox::User=root: as root, apt would otherwise download as _apt, who cannot write here.
    download() { (cd "$bundle/debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" > /dev/null); }
    if ! download; then
        apt-get update -q > /dev/null
        candidates || die "apt-cache knows no candidate for one of: ${packages[*]}"
        download || die "apt-get download ${missing[*]} failed"
    fi
    changed=1
fi
for package in "${packages[@]}"; do
    [[ -f $bundle/debs/${file_of[$package]} ]] || die "apt-get download left no ${file_of[$package]}"
done
# Older versions and packages no longer listed go, so that MANIFEST is the folder's content.
declare -A wanted=()
for package in "${packages[@]}"; do wanted[${file_of[$package]}]=1; done
for path in "$bundle"/debs/*.deb; do
    [[ -n ${wanted[$(basename "$path")]:-} ]] || { say "removing $(basename "$path") (not in the list)"; rm -f "$path"; changed=1; }
done

# Every Depends:/Pre-Depends: of every package is met by a bundled package (its name or one of its
# Provides:) or by the base (tools/gpu-env.sh).
declare -A provided=()
for name in "${twp_gpu_base_packages[@]}"; do provided[$name]=1; done
for package in "${packages[@]}"; do
    provided[$package]=1
    provides=$(dpkg-deb -f "$bundle/debs/${file_of[$package]}" Provides)
    for name in ${provides//,/ }; do
        [[ $name == "("* || $name == *")" || $name == "=" ]] || provided[${name%%:*}]=1
    done
done
unmet=()
for package in "${packages[@]}"; do
    depends=$(dpkg-deb -f "$bundle/debs/${file_of[$package]}" Depends Pre-Depends | sed -E 's/^[A-Za-z-]+: //' | tr '\n' ',')
    IFS=',' read -r -a clauses <<< "$depends"
    for clause in "${clauses[@]}"; do
        clause=$(sed -E 's/\([^)]*\)//g; s/:[a-z0-9]+//g' <<< "$clause")
        [[ -n ${clause// /} ]] || continue
        met=0
        IFS='|' read -r -a alternatives <<< "$clause"
        for name in "${alternatives[@]}"; do
            name=${name// /}
            [[ -n ${provided[$name]:-} ]] && { met=1; break; }
        done
        ((met)) || unmet+=("$package needs${clause}")
    done
done
((${#unmet[@]} == 0)) || die "dependencies outside the bundle and the base: ${unmet[*]} (add them to tools/gpu-env.sh's groups)"

# ---- MNIST, gzipped ----
have_mnist() {
    local name
    for name in "${twp_gpu_mnist_files[@]}"; do
        [[ -f data/mnist/$name || -f data/mnist/$name.gz ]] || return 1
    done
}
if ! have_mnist; then
    say "data/mnist incomplete: tools/fetch-data.sh"
    tools/fetch-data.sh > /dev/null
fi
for name in "${twp_gpu_mnist_files[@]}"; do
    destination="$bundle/mnist/$name.gz"
    if [[ -f data/mnist/$name ]]; then
        source_file=data/mnist/$name
        [[ -f $destination && ! $source_file -nt $destination ]] && continue
        gzip -9 -n -c "$source_file" > "$destination.tmp"
    else
        source_file=data/mnist/$name.gz
        [[ -f $destination && ! $source_file -nt $destination ]] && continue
        cp "$source_file" "$destination.tmp"
    fi
    gzip -t "$destination.tmp"
    mv "$destination.tmp" "$destination"
    changed=1
done

# ---- MANIFEST ----
manifest="$bundle/MANIFEST"
if ((changed)) || [[ ! -f $manifest || tools/gpu-env.sh -nt $manifest ]] || ! twp_gpu_verify_bundle "$bundle" > /dev/null; then
    # The newest glibc symbol version any bundled library needs: the GPU machine's glibc must be
    # at least that (tools/gpu-check.sh compares).
    unpacked=$(mktemp -d)
    for package in "${packages[@]}"; do twp_gpu_unpack_deb "$bundle/debs/${file_of[$package]}" "$unpacked"; done
    glibc=$(find "$unpacked" -type f -name '*.so*' -exec readelf -W --version-info {} + 2> /dev/null |
        grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -n 1)
    rm -rf "$unpacked"
    {
        # shellcheck disable=SC1091
        echo "# twp GPU bundle, made by tools/gpu-bundle.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "from $(. /etc/os-release && echo "$PRETTY_NAME") $(dpkg --print-architecture)"
        echo "# kind group name version file bytes sha256 (tools/gpu-env.sh reads this)"
        for package in "${packages[@]}"; do
            file="debs/${file_of[$package]}"
            echo "deb ${group_of[$package]} $package ${version_of[$package]} $file $(stat -c %s "$bundle/$file") $(twp_gpu_sha256 "$bundle/$file")"
        done
        for name in "${twp_gpu_mnist_files[@]}"; do
            file="mnist/$name.gz"
            echo "mnist - $name - $file $(stat -c %s "$bundle/$file") $(twp_gpu_sha256 "$bundle/$file")"
        done
        echo "glibc - ${glibc:-GLIBC_0} - - 0 -"
    } > "$manifest.tmp"
    mv "$manifest.tmp" "$manifest"
    twp_gpu_verify_bundle "$bundle" --sha || die "the bundle does not match the MANIFEST just written"
    say "wrote $manifest"
fi

bytes=$(du -sb "$bundle" | cut -f 1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
tree_bytes=$(git ls-files -z -co --exclude-standard 2> /dev/null | xargs -0 -r stat -c %s -- 2> /dev/null |
    awk '{s += $1} END {print s + 0}')
say "$(basename "$bundle")/ is $(mib "$bytes") MiB (limit $limit_mib MiB): ${#packages[@]} packages," \
    "${#twp_gpu_mnist_files[@]} MNIST files, needs $(awk '$1 == "glibc" {print $3}' "$manifest") or newer;" \
    "with the tree ($(mib "$tree_bytes") MiB) the copy is $(mib $((bytes + tree_bytes))) MiB of 64 ($((SECONDS - started)) s)"
((bytes <= limit_mib * 1048576)) || die "the bundle is over $limit_mib MiB: $(mib "$bytes") MiB"
