// This machine's limits, measured by the CPU benchmarks so that each figure can be stated as a
// fraction of them: the SGEMM rate (one large single-threaded OpenBLAS SGEMM per thread, all
// threads at once: how OpenBLAS runs inside twp's OpenMP loops) and the streaming bandwidth of an
// optimizer-like pass (4 float arrays read, 3 written, as Adam's p, g, m, v).
#pragma once

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "engine/blas.hpp"

namespace twp::bench {

// The best of 3 timed calls of run() (after one untimed), in seconds.
template <class F>
double best_seconds(const F& run) {
    run();
    double best = 1e300;
    for (int r = 0; r < 3; ++r) {
        const auto start = std::chrono::steady_clock::now();
        run();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

// GFLOP/s of `threads` concurrent single-threaded SGEMMs of 1536^3, the best of 3.
inline double sgemm_gflop_per_s(int threads) {
    const int64_t n = 1536;
    std::vector<std::vector<float>> a(threads, std::vector<float>(n * n, 0.5f)), c(threads, std::vector<float>(n * n));
    const auto run = [&] {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
        for (int t = 0; t < threads; ++t)
            blas::gemm(false, false, n, n, n, 1.0f, a[t].data(), n, a[t].data(), n, 0.0f, c[t].data(), n);
    };
    return 2.0 * double(n) * double(n) * double(n) * threads / best_seconds(run) / 1e9;
}

// GB/s of a pass over `count` floats that reads 4 arrays and writes 3 (28 bytes per element),
// with `threads` threads, the best of 3: the memory floor of an Adam step over `count` parameters.
inline double optimizer_stream_gb_per_s(int64_t count, int threads) {
    std::vector<float> p(count, 1.0f), g(count, 0.5f), m(count, 0.0f), v(count, 0.0f);
    const auto run = [&] {
#pragma omp parallel for simd num_threads(threads) schedule(static)
        for (int64_t i = 0; i < count; ++i) {
            m[i] = 0.9f * m[i] + 0.1f * g[i];
            v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
            p[i] = p[i] - 1e-4f * m[i] / (v[i] + 1.0f);
        }
    };
    return 28.0 * double(count) / best_seconds(run) / 1e9;
}

}  // namespace twp::bench
