// How far apart two subspaces are: the largest principal angle between the row spaces of two
// matrices with orthonormal rows (two PCA bases of the same data, e.g. the CUDA fit against the
// CPU fit in tests/test_pca_device.cpp and bench/bench_pca_gpu.cpp).
#pragma once

#include <cstdint>

namespace twp {

// sin of the largest principal angle between the row spaces of a[k, d] and b[k, d] (each with
// orthonormal rows, float as PCA stores them): the largest singular value of a - (a·bᵀ)·b, in
// double. Computed from the residual rather than from cosines, so that angles down to ~1e-15 stay
// measurable (1 - cos loses everything below 1e-8). Cost 6k²d flops, 3kd doubles of memory.
double largest_principal_sine(const float* a, const float* b, int64_t k, int64_t d);

}  // namespace twp
