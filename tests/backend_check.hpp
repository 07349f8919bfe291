// Helpers for the op tests: the CPU backend every test shares, host vectors copied into backend
// buffers, outputs poisoned before an op runs (NaN for floats, -7 for indices, so an element the
// op forgot to write fails the comparison), and central finite differences in double precision.
#pragma once

#include <omp.h>

#include <functional>
#include <type_traits>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/cpu_backend.hpp"
#include "tests/check.hpp"

namespace twp::test {

// Runs f with `threads` OpenMP threads, then restores the previous count.
template <class F>
void with_threads(int threads, F&& f) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    f();
    omp_set_num_threads(saved);
}

inline CpuBackend& backend() {
    static CpuBackend instance;
    return instance;
}

template <class T>
Buffer<T> to_backend(const std::vector<T>& host) {
    Buffer<T> buffer(backend(), int64_t(host.size()));
    buffer.upload(host);
    return buffer;
}

template <class T>
Buffer<T> poisoned(int64_t count) {
    std::vector<T> host(count);
    if constexpr (std::is_floating_point_v<T>) poison(host);
    else std::fill(host.begin(), host.end(), T(-7));
    return to_backend(host);
}

inline std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Central differences of f at every element of `values` (changed in place and restored).
inline std::vector<double> numeric_gradient(std::vector<double>& values, const std::function<double()>& f,
                                            double eps = 1e-5) {
    std::vector<double> grad(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        const double saved = values[i];
        values[i] = saved + eps;
        const double plus = f();
        values[i] = saved - eps;
        const double minus = f();
        values[i] = saved;
        grad[i] = (plus - minus) / (2 * eps);
    }
    return grad;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
    return sum;
}

}  // namespace twp::test
