#!/usr/bin/env python3
"""PyTorch peer of bench_pca_gpu on the same GPU: the same random-walk snapshots (d = 61,706 by
default; drawn with numpy, the same formula as bench/bench_pca.cpp, not the same numbers), for each
n of --sizes with k = min(--components, n):
- torch.linalg.svd(Xc, full_matrices=False) of the centered data in float64 (cuSOLVER's gesvd
  family through PyTorch), then the first k right singular vectors;
- torch.pca_lowrank(X, q=k, center=True, niter=2) in float64 (randomized; approximate by design).
Times are medians of 3 (once beyond 10 s) with torch.cuda.synchronize() around each call, the data
already on the GPU; accuracy of pca_lowrank is the worst relative error of its first
min(k, 50) explained variances against the full SVD's. Prints one JSON object; where torch or a
CUDA device is missing it prints {"skipped": "<why>"} and exits 0 (Debian's python3-torch is
CPU-only).

usage: bench_pca_torch_gpu.py [--sizes 200,1000,4000] [--components 500] [--dim 61706] [--device N]
"""
import argparse
import json
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000,4000")
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--dim", type=int, default=61706)
    parser.add_argument("--device", type=int, default=0)
    args = parser.parse_args()
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(json.dumps({"skipped": f"no PyTorch or numpy ({e})"}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": f"PyTorch {torch.__version__} sees no CUDA device"}))
        return
    device = torch.device("cuda", args.device)
    torch.backends.cuda.matmul.allow_tf32 = False

    def random_walk(n, d, seed):
        rng = np.random.default_rng(seed)
        x = np.empty((n, d), dtype=np.float32)
        x[0] = rng.uniform(-0.1, 0.1, d)
        for t in range(1, n):
            step = 0.01 / np.sqrt(1.0 + t / 100.0)
            x[t] = x[t - 1] + step * rng.uniform(-1.0, 1.0, d)
        return x

    def timed(run):
        torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = run()
        torch.cuda.synchronize(device)
        return time.perf_counter() - start, result

    def median(run):
        first, result = timed(run)
        if first > 10:
            return first, result
        times = []
        for _ in range(3):
            seconds, result = timed(run)
            times.append(seconds)
        return statistics.median(times), result

    # Warm-up: cuSOLVER and cuBLAS handles, the context.
    warm = torch.randn(50, 1000, dtype=torch.float64, device=device)
    torch.linalg.svd(warm, full_matrices=False)
    torch.pca_lowrank(warm, q=10, center=True)

    sizes = []
    for n in [int(s) for s in args.sizes.split(",")]:
        k = min(args.components, n, args.dim)
        x = torch.from_numpy(random_walk(n, args.dim, 7)).to(device)
        x64 = x.double()
        entry = {"n": n, "k": k}
        svd_seconds, (u, s, vh) = median(lambda: torch.linalg.svd(x64 - x64.mean(0), full_matrices=False))
        variance = (s[:k] ** 2 / (n - 1)).cpu().numpy()
        entry["svd_float64_seconds"] = round(svd_seconds, 4)
        low_seconds, (_, s_low, _) = median(lambda: torch.pca_lowrank(x64, q=k, center=True, niter=2))
        variance_low = (s_low[:k] ** 2 / (n - 1)).cpu().numpy()
        m = min(k, 50)
        entry["pca_lowrank_float64_seconds"] = round(low_seconds, 4)
        entry["pca_lowrank_worst_variance_rel_error_first_%d" % m] = float(
            np.max(np.abs(variance_low[:m] - variance[:m]) / variance[:m]))
        sizes.append(entry)
        del x, x64, u, s, vh
        torch.cuda.empty_cache()
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(device), "dim": args.dim,
                      "sizes": sizes}, indent=1))


if __name__ == "__main__":
    main()
