// engine/subspace.hpp: three DGEMMs and LAPACK's largest eigenvalue of a k x k matrix.
#include "engine/subspace.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/blas.hpp"
#include "engine/error.hpp"
#include "engine/lapack.hpp"

namespace twp {

double largest_principal_sine(const float* a_float, const float* b_float, int64_t k, int64_t d) {
    TWP_CHECK(k >= 1 && d >= k, "largest_principal_sine: needs 1 <= k <= d, got k " << k << ", d " << d);
    const std::vector<double> a(a_float, a_float + k * d), b(b_float, b_float + k * d);
    std::vector<double> m(k * k), residual = a, s(k * k), eigenvector(k);
    blas::gemm(false, true, k, k, d, 1.0, a.data(), d, b.data(), d, 0.0, m.data(), k);  // a·bᵀ
    blas::gemm(false, false, k, d, k, -1.0, m.data(), k, b.data(), d, 1.0, residual.data(), d);
    blas::gemm(false, true, k, k, d, 1.0, residual.data(), d, residual.data(), d, 0.0, s.data(), k);
    double largest = 0;
    lapack::symmetric_eigen_largest(k, s.data(), 1, &largest, eigenvector.data());
    return std::sqrt(std::max(largest, 0.0));
}

}  // namespace twp
