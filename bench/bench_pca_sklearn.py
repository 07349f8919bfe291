#!/usr/bin/python3
"""scikit-learn peer of bench_pca: PCA(n_components=min(500, n)).fit on float32 random-walk
snapshots of d = 61,706 weights, for the same sample counts.

The data follows bench_pca's formula with numpy's RNG (same shapes and statistics, not the same
numbers; PCA's time does not depend on the values): x[0] uniform in +-0.1, then
x[t] = x[t-1] + 0.01 / sqrt(1 + t / 100) * uniform(-1, 1).

Timing as in bench_pca: a fit over 10 s is timed once, shorter ones warm up once and report the
median of 3. scikit-learn's default solver is kept ("auto": 'full' LAPACK SVD when
n_components >= 0.8 * min(n, d), otherwise the randomized, approximate one) and reported per size.
A size whose time, predicted from the previous one, exceeds --time-limit seconds is skipped and
reported as such; the prediction scales by (n / n_previous)^2 after a 'full' fit and linearly after
a randomized one (its cost is about n * d * k). Threads: set OPENBLAS_NUM_THREADS before starting
(bench/run_bench_pca.sh does). Prints one JSON object.

usage: bench_pca_sklearn.py [--sizes 200,1000,4000] [--components 500] [--dim 61706]
                            [--time-limit 180]
"""
import argparse
import json
import statistics
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA


def random_walk(n, d, seed):
    rng = np.random.default_rng(seed)
    x = np.empty((n, d), dtype=np.float32)
    x[0] = rng.uniform(-0.1, 0.1, d).astype(np.float32)
    for t in range(1, n):
        step = np.float32(0.01 / np.sqrt(1.0 + t / 100.0))
        x[t] = x[t - 1] + step * (2 * rng.random(d, dtype=np.float32) - 1)
    return x


def median_seconds(run):
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    if first > 10.0:
        return first
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000,4000")
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--dim", type=int, default=61706)
    parser.add_argument("--time-limit", type=float, default=180.0)
    args = parser.parse_args()

    result = {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
              "d": args.dim}
    previous = None  # (n, seconds, solver)
    for n in [int(s) for s in args.sizes.split(",")]:
        if previous:
            predicted = previous[1] * (n / previous[0]) ** (1 if previous[2] == "randomized" else 2)
            if predicted > args.time_limit:
                result[f"fit_s_n{n}"] = (f"skipped: predicted {predicted:.0f} s > "
                                         f"{args.time_limit:.0f} s")
                continue
        x = random_walk(n, args.dim, 1)
        k = min(args.components, n)
        pca = PCA(n_components=k)
        seconds = median_seconds(lambda: pca.fit(x))
        result[f"fit_s_n{n}"] = round(seconds, 3)
        result[f"solver_n{n}"] = pca._fit_svd_solver
        previous = (n, seconds, pca._fit_svd_solver)
        del x
    print(json.dumps(result))


if __name__ == "__main__":
    main()
