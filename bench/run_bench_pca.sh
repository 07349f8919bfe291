#!/usr/bin/env bash
# PCA fit time on LeNet-5-sized snapshots (d = 61,706; n = 200, 1000, 4000; k = min(500, n)):
# twp's fit_pca beside scikit-learn's PCA on the same machine in the same run, and the ratios
# (> 1: twp is faster). Both use every core: twp through OpenBLAS threads, scikit-learn (one
# process) through OPENBLAS_NUM_THREADS. scikit-learn keeps its default solver, which is the
# randomized, approximate SVD when k < 0.8 n (n = 1000, 4000 here): the JSON says which it used.
# twp's part also carries the machine's limit measured in the same run (dgemm_gflops,
# dsyrk_gflops), each size's floor (floor_s_n*: the Gram at the DSYRK rate plus the components at
# the DGEMM rate), the fraction of it reached, and where the fit spent its time (stages_s_n*); see
# bench/bench_pca.cpp.
# Prints one JSON object. Expect several minutes: the n = 4000 fits take a minute or more each.
#   usage: bench/run_bench_pca.sh [sizes, default 200,1000,4000]
#   TWP_BUILD_DIR picks the build directory (default build/).
set -euo pipefail
root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
sizes="${1:-200,1000,4000}"
threads="$(nproc)"
build="${TWP_BUILD_DIR:-$root/build}"
"$root/tools/setup-deps.sh" --bench > /dev/null
[[ -x "$build/bench_pca" ]] || "$root/tools/build.sh"
twp_json="$("$build/bench_pca" --sizes "$sizes" --threads "$threads")"
sklearn_json="$(OPENBLAS_NUM_THREADS="$threads" /usr/bin/python3 "$root/bench/bench_pca_sklearn.py" \
    --sizes "$sizes")"
/usr/bin/python3 - "$twp_json" "$sklearn_json" <<'PY'
import json, sys
twp, sk = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratios = {}
for key, seconds in twp.items():
    if key.startswith("fit_s_n"):
        other = sk.get(key)
        ratios[key[len("fit_s_"):]] = (round(other / seconds, 2) if isinstance(other, (int, float))
                                       else "sklearn " + str(other))
print(json.dumps({"twp": twp, "sklearn": sk, "ratio_sklearn_time_over_twp_time": ratios},
                 indent=2))
PY
