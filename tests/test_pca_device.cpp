// PCA on the CUDA backend (engine/cuda_pca_solver.hpp: cuBLAS DSYRK/DGEMM, cuSOLVER DSYEVD and the
// kernels of kernels/pca.cuh) against the CPU fit (engine/pca.cpp), which is the reference.
// Compiled twice: against the CUDA emulation (twp_pca_device_tests, CI: the same device code path,
// with the CPU BLAS and LAPACK's dsyevd standing in for cuBLAS and cuSOLVER) and natively
// (twp_pca_device_tests_gpu, label gpu, skipped with exit 77 without a device).
// - the kernels alone: column means (same bits as the CPU's sums), the centering kernel (float
//   in, double out, a column block or the whole), the rounding store, the trace, the top
//   eigenvectors reversed and scaled, every array between guards (tests/kernel_check.hpp);
// - the fit, over shapes with d > n, d < n, d = n, one feature, column blocks that do not divide
//   d, and requested components 1, 3, n (zero-variance tail) and 1000 (capped): the largest
//   principal angle between the device and CPU subspaces (sin θ < 1e-5; both bases are stored in
//   float), every axis's sign identical and its |cos| within 1e-6 of 1, explained variance within
//   1e-4 relative (1e-10 of the largest absolute), no NaN, orthonormal;
// - rank-deficient input (duplicate rows) and identical rows (no variance at all);
// - transform and inverse_transform against the CPU's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "engine/cuda_backend.hpp"
#include "engine/cuda_pca_solver.hpp"
#include "engine/pca.hpp"
#include "engine/random.hpp"
#include "engine/subspace.hpp"
#include "kernels/device_memory.hpp"
#include "kernels/pca.cuh"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"
#include "tests/pca_check.hpp"

using namespace twp;
using test::all_finite;
using test::orthonormality_error;
using test::random_walk;
using test::require_close;
using test::Tolerance;
using Catch::Matchers::Contains;

namespace {

CudaBackend& cuda() {
    static CudaBackend instance(0);
    return instance;
}

// The worst agreement seen over all fits, printed once at the end.
struct Agreement {
    double sine = 0, axis = 0, variance = 0;
    int fits = 0;
};
Agreement& agreement() {
    static Agreement worst;
    return worst;
}

// The device fit against the CPU fit: shapes, rank, finite, orthonormal, subspace, signs, variance.
void require_agreement(const PcaModel& device, const PcaModel& cpu) {
    REQUIRE(device.components == cpu.components);
    REQUIRE(device.dim == cpu.dim);
    REQUIRE(device.samples == cpu.samples);
    REQUIRE(all_finite(device));
    REQUIRE(orthonormality_error(device) < 1e-5);
    require_close(device.mean, cpu.mean, {0, 0});  // the same sums in the same order
    const int64_t k = cpu.components, d = cpu.dim;
    int64_t rank = 0;
    while (rank < k && cpu.explained_variance[rank] > 0) ++rank;
    for (int64_t i = 0; i < k; ++i) {
        CAPTURE(i, rank);
        REQUIRE((device.explained_variance[i] > 0) == (i < rank));
    }
    // Explained variance (and its ratio) within 1e-4 relative.
    const double largest = cpu.explained_variance[0];
    require_close(device.explained_variance, cpu.explained_variance, {1e-4, 1e-10 * largest});
    require_close(device.explained_variance_ratio, cpu.explained_variance_ratio, {1e-4, 1e-12});
    for (int64_t i = 0; i < rank; ++i)
        agreement().variance = std::max(agreement().variance, std::abs(device.explained_variance[i] - cpu.explained_variance[i]) /
                                                                  cpu.explained_variance[i]);
    // The axes with variance: the subspace, and each axis with its sign.
    if (rank > 0) {
        const double sine = largest_principal_sine(device.basis.data(), cpu.basis.data(), rank, d);
        CAPTURE(sine);
        REQUIRE(sine < 1e-5);
        agreement().sine = std::max(agreement().sine, sine);
    }
    for (int64_t i = 0; i < rank; ++i) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += double(device.basis[i * d + j]) * cpu.basis[i * d + j];
        CAPTURE(i, dot);
        REQUIRE(dot > 0);  // the same sign
        REQUIRE(1 - dot < 1e-6);
        agreement().axis = std::max(agreement().axis, 1 - dot);
    }
    // The whole basis, tail included, spans the same space (the fill vectors are orthonormalized
    // against slightly different leading axes, so they agree to the same order).
    REQUIRE(largest_principal_sine(device.basis.data(), cpu.basis.data(), k, d) < 1e-5);
    ++agreement().fits;
}

}  // namespace

TEST_CASE("PCA kernels: column means, centering, store, trace, scaled top eigenvectors", "[pca_device]") {
    const int64_t n = 7, d = 1000;
    const std::vector<float> x = random_walk(n, d, 31);
    std::vector<double> expected_mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) expected_mean[j] += double(x[i * d + j]);
    for (double& m : expected_mean) m /= double(n);

    const test::GuardedArray<float> device_x(x);
    test::GuardedArray<double> mean(std::vector<double>(d, std::numeric_limits<double>::quiet_NaN()));
    kernels::pca_column_means(device_x.data(), n, d, mean.data(), nullptr);
    require_close(mean.download(), expected_mean, {0, 0});

    for (const int64_t c0 : {int64_t(0), int64_t(300), int64_t(999)})
    for (const int64_t width : {int64_t(1), int64_t(517), d - c0}) {
        if (c0 + width > d) continue;
        CAPTURE(c0, width);
        for (const bool centered : {true, false}) {
            std::vector<double> expected(n * width);
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < width; ++j)
                    expected[i * width + j] = double(x[i * d + c0 + j]) - (centered ? expected_mean[c0 + j] : 0.0);
            test::GuardedArray<double> block(std::vector<double>(n * width, std::numeric_limits<double>::quiet_NaN()));
            kernels::pca_center_columns(device_x.data(), n, d, c0, width, centered ? mean.data() : nullptr,
                                        block.data(), nullptr);
            require_close(block.download(), expected, {0, 0});

            // And back: store_columns adds the mean again and rounds to float, into columns
            // c0 .. c0 + width - 1 only.
            test::GuardedArray<float> stored(n * d);
            kernels::device_fill(stored.data(), -7.0f, n * d);
            kernels::pca_store_columns(block.data(), n, width, centered ? mean.data() : nullptr, stored.data(), d,
                                       c0, nullptr);
            const std::vector<float> back = stored.download();
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < d; ++j) {
                    const bool inside = j >= c0 && j < c0 + width;
                    CAPTURE(i, j);
                    if (inside) REQUIRE(std::abs(back[i * d + j] - x[i * d + j]) <= 1e-7f * std::abs(x[i * d + j]));
                    else REQUIRE(back[i * d + j] == -7.0f);
                }
        }
    }
    REQUIRE_THROWS_WITH(kernels::pca_center_columns(device_x.data(), n, d, 990, 11, nullptr, nullptr, nullptr),
                        Contains("do not fit"));

    // Trace, and the top eigenvectors reversed and scaled, on a small symmetric array.
    const int64_t m = 37;
    const std::vector<double> a = test::random_vector<double>(m * m, 32);
    std::vector<double> ascending(m);
    for (int64_t i = 0; i < m; ++i) ascending[i] = 0.5 + double(i) * double(i);
    double expected_trace = 0;
    for (int64_t i = 0; i < m; ++i) expected_trace += a[i * m + i];
    const test::GuardedArray<double> device_a(a), device_values(ascending);
    test::GuardedArray<double> trace(std::vector<double>{std::numeric_limits<double>::quiet_NaN()});
    kernels::pca_trace(device_a.data(), m, trace.data(), nullptr);
    REQUIRE(trace.download()[0] == Approx(expected_trace).epsilon(1e-14));
    const int64_t rank = 5;
    test::GuardedArray<double> scaled(std::vector<double>(rank * m, std::numeric_limits<double>::quiet_NaN()));
    kernels::pca_scaled_top_eigenvectors(device_a.data(), device_values.data(), m, rank, scaled.data(), nullptr);
    std::vector<double> expected_scaled(rank * m);
    for (int64_t i = 0; i < rank; ++i)
        for (int64_t s = 0; s < m; ++s)
            expected_scaled[i * m + s] = a[(m - 1 - i) * m + s] * (1.0 / std::sqrt(ascending[m - 1 - i]));
    require_close(scaled.download(), expected_scaled, {0, 0});
}

TEST_CASE("device PCA agrees with the CPU PCA: subspace, signs, explained variance", "[pca_device]") {
    struct Case {
        int64_t n, d;
    };
    // d > n (the snapshot case) over several blocks, d < n, d = n, one feature, the smallest n.
    for (const Case c : {Case{40, 300}, Case{30, 2500}, Case{60, 20}, Case{25, 25}, Case{7, 1}, Case{2, 5}})
    for (const int64_t requested : {int64_t(1), int64_t(3), c.n, int64_t(1000)})
    for (const int64_t column_block : {int64_t(128), CudaPcaSolver::kDefaultColumnBlock}) {
        CAPTURE(c.n, c.d, requested, column_block);
        const std::vector<float> x = random_walk(c.n, c.d, 33);
        const PcaModel cpu = fit_pca(x.data(), c.n, c.d, requested);
        CudaPcaSolver solver(cuda().libraries(), column_block);
        const PcaModel device = fit_pca(solver, x.data(), c.n, c.d, requested);
        REQUIRE(device.components == std::min({requested, c.n, c.d}));
        require_agreement(device, cpu);
        if (requested >= c.n && c.n <= c.d) {
            // n components of n samples: the last carries no variance (rank <= n - 1), no NaN.
            REQUIRE(device.explained_variance[c.n - 1] == 0);
            REQUIRE(device.explained_variance_ratio[c.n - 1] == 0);
        }
    }
    // Through the backend interface: CudaBackend hands out its solver.
    REQUIRE(cuda().pca_solver()->name() == "cuda");
    const std::vector<float> x = random_walk(50, 700, 34);
    require_agreement(fit_pca(cuda(), x.data(), 50, 700, 20), fit_pca(x.data(), 50, 700, 20));
    const Agreement& worst = agreement();
    std::printf("device vs CPU PCA over %d fits: worst sin(largest principal angle) %.2e, worst axis 1 - cos %.2e, "
                "worst explained variance rel. error %.2e\n",
                worst.fits, worst.sine, worst.axis, worst.variance);
}

TEST_CASE("device PCA of rank-deficient data: zero tail, no NaN, orthonormal, as the CPU's", "[pca_device]") {
    SECTION("rows repeated: 5 distinct rows, centered rank 4") {
        for (const int64_t d : {int64_t(300), int64_t(1100), int64_t(12)}) {
            const int64_t n = 30;
            CAPTURE(d);
            const std::vector<float> distinct = random_walk(5, d, 35);
            std::vector<float> x(n * d);
            for (int64_t t = 0; t < n; ++t) std::copy_n(distinct.begin() + (t % 5) * d, d, x.begin() + t * d);
            CudaPcaSolver solver(cuda().libraries(), 256);
            const PcaModel device = fit_pca(solver, x.data(), n, d, n);
            const PcaModel cpu = fit_pca(x.data(), n, d, n);
            REQUIRE(device.components == std::min(n, d));
            require_agreement(device, cpu);
            for (int64_t i = 0; i < device.components; ++i) {
                CAPTURE(i);
                REQUIRE((device.explained_variance[i] > 0) == (i < 4));
            }
            std::vector<float> scores(n * device.components), back(n * d);
            test::poison(scores);
            test::poison(back);
            device.transform(cuda(), x.data(), n, scores.data());
            device.inverse_transform(cuda(), scores.data(), n, back.data());
            require_close(back, x, Tolerance().with_largest(1e-5));
        }
    }
    SECTION("all rows identical: no variance, the host's fill vectors exactly") {
        const int64_t n = 6, d = 50;
        const std::vector<float> row = random_walk(1, d, 36);
        std::vector<float> x;
        for (int64_t t = 0; t < n; ++t) x.insert(x.end(), row.begin(), row.end());
        const PcaModel device = fit_pca(cuda(), x.data(), n, d, 4);
        const PcaModel cpu = fit_pca(x.data(), n, d, 4);
        REQUIRE(all_finite(device));
        REQUIRE(orthonormality_error(device) < 1e-5);
        for (int64_t i = 0; i < 4; ++i) REQUIRE(device.explained_variance[i] == 0);
        REQUIRE(device.basis == cpu.basis);  // the same fill, orthonormalized by the same host code
    }
}

TEST_CASE("device PCA refuses NaN input like the CPU fit", "[pca_device]") {
    std::vector<float> x = random_walk(4, 3, 37);
    x[7] = std::numeric_limits<float>::quiet_NaN();  // row 2, feature 1
    REQUIRE_THROWS_WITH(fit_pca(cuda(), x.data(), 4, 3, 1), Contains("feature 1") && Contains("NaN"));
}

TEST_CASE("device transform and inverse_transform agree with the CPU's", "[pca_device]") {
    for (const int64_t column_block : {int64_t(100), CudaPcaSolver::kDefaultColumnBlock})
    for (const int64_t rows : {int64_t(0), int64_t(1), int64_t(9)}) {
        CAPTURE(column_block, rows);
        const int64_t n = 30, d = 450, k = 12;
        const std::vector<float> x = random_walk(n, d, 38);
        const PcaModel model = fit_pca(x.data(), n, d, k);
        const std::vector<float> fresh = random_walk(rows + 1, d, 39);  // rows not in the fit
        CudaPcaSolver solver(cuda().libraries(), column_block);

        if (rows == 0) {  // nothing to do, and nothing touched
            float untouched = 5.0f;
            model.transform(cuda(), fresh.data(), 0, &untouched);
            model.inverse_transform(cuda(), &untouched, 0, &untouched);
            REQUIRE(untouched == 5.0f);
            continue;
        }
        std::vector<float> expected(rows * k), scores(rows * k);
        test::poison(scores);
        model.transform(fresh.data(), rows, expected.data());
        solver.transform(model, fresh.data(), rows, scores.data());
        require_close(scores, expected, Tolerance(1e-6).with_largest(1e-6));

        std::vector<float> expected_back(rows * d), back(rows * d);
        test::poison(back);
        model.inverse_transform(expected.data(), rows, expected_back.data());
        solver.inverse_transform(model, expected.data(), rows, back.data());
        require_close(back, expected_back, Tolerance(1e-6).with_largest(1e-6));

        // And through the backend interface.
        std::vector<float> via_backend(rows * k), back_via_backend(rows * d);
        test::poison(via_backend);
        test::poison(back_via_backend);
        model.transform(cuda(), fresh.data(), rows, via_backend.data());
        require_close(via_backend, expected, Tolerance(1e-6).with_largest(1e-6));
        model.inverse_transform(cuda(), expected.data(), rows, back_via_backend.data());
        require_close(back_via_backend, expected_back, Tolerance(1e-6).with_largest(1e-6));
    }
}
