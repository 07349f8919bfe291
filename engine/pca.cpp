// PCA (engine/pca.hpp) through the Gram matrix of the centered snapshots, in double. Steps 1-4
// are the solver's (engine/pca_solver.hpp: the CPU one here, the CUDA one in
// engine/cuda_pca_solver.cpp, the same steps on cuBLAS and cuSOLVER); steps 5-7, the rank cut and
// the explained variance are fit_pca(PcaSolver&, ...)'s, shared by both:
//   1. column means of x[n, d] in double;
//   2. G[n, n] = Xc · Xcᵀ, accumulated over blocks of kColumnBlock columns converted to double
//      (DSYRK per block): fp32 squaring would lose the small components, and a whole double copy
//      of Xc would be 2.4 GB at n = 5000;
//   3. the k largest eigenpairs (λ_i, u_i) of G: LAPACK's dsyevd for all n when k > n / 4, else
//      dsyevr for the k alone;
//   4. component i = Xcᵀ u_i / σ_i with σ_i = sqrt(λ_i), again over double column blocks (DGEMM),
//      stored as float;
//   5. components whose λ_i is below kZeroVarianceRatio · λ_1 (past the rank) are not divided by
//      ~0: they start from deterministic pseudo-random vectors instead and get variance 0;
//   6. the basis is checked for orthonormality in double (its products B · Bᵀ, filled rows
//      included; their diagonal also tells whether a component has a NaN or Inf) and, from the
//      first row that is off by more than kOrthonormalTolerance, re-orthonormalized (block
//      Gram-Schmidt twice against the good rows, the first pass's coefficients taken from the
//      check, then Cholesky QR); small-λ components lose orthogonality as eps · λ_1 / λ_i, and
//      the filled components always need it;
//   7. sign rule: each component's largest-magnitude entry positive.
// Cost: n²d (Gram) + 2nkd (components) + k²d (check) flops, n² + kn doubles of memory besides
// the model (200 MB at n = 5000), plus the eigensolver's O(n³). Made for n <= d (snapshots of a
// network); with n >> d a d x d covariance would be cheaper.
//
// Measured with bench/run_bench_pca.sh (d = 61,706, k = min(500, n), 2-core AMD EPYC VM with
// AVX-512, OpenBLAS 0.3.21, 2 threads; this run's DGEMM 107 GFLOP/s, DSYRK 97; the cores are
// shared with other work, so repeated runs vary by 10-70%). Floor: the Gram at the DSYRK rate plus
// the components at the DGEMM rate. "host": the check, repair and sign rule (step 6 dominates).
//      n    fit      floor    means  Gram+eigen  components  host    scikit-learn 1.2.1
//    200   0.25 s   0.072 s  0.004    0.061      0.063       0.12    1.00 s (full)       3.9x
//   1000   1.87 s   1.21 s   0.022    0.83       0.68        0.32    7.01 s (randomized) 3.8x
//   4000   18.5 s   12.5 s   0.085    15.1       2.85        0.41    22.8 s (randomized) 1.2x
// Before (same run conditions, dsyevr for the top k, a separate finiteness pass, four reads of
// the good rows per repair): 0.27 s, 2.63 s, 18.4 s. At n = 4000 the Gram alone is ~10 s at the
// DSYRK rate and the eigensolver ~5 s (dsytrd's memory-bound reduction to tridiagonal is most of
// it), so in double this method cannot get near 3x scikit-learn's randomized solver there.
//
// Why not a float Gram (SSYRK over float-centered column blocks, each block's result added to a
// double G; measured on the bench's data against the all-double Gram, over the top 500
// components: worst 1 - |cos| of an axis / worst relative variance error / Gram time):
//      n = 1000, blocks of   64 columns: 2.4e-6 / 3.6e-6 / 0.74 s (double: 0.79 s)
//      n = 1000, blocks of  256 columns: 3.0e-5 / 1.4e-5 / 0.56 s
//      n = 1000, blocks of 1024 columns: 1.8e-4 / 1.8e-5 / 0.49 s
//      n = 4000, blocks of  512 columns: 1.1e-5 / 5.4e-6 / 9.5 s  (double: 10.1 s)
// It gives up 7-9 orders of magnitude of accuracy (the double Gram is at 4e-14 / 7e-13 against
// dgesdd) for 5-40% of the Gram's time: the n² double additions per block and SSYRK's small-n
// rate eat most of float's 2x.
//
// Why not an SVD of the data: measured with `bench_pca --compare-svd --sizes
// 50,200,1000,2000,5000` (random-walk snapshots, d = 61,706, k = min(500, n); 2-core AMD EPYC VM,
// OpenBLAS 0.3.21, 2 threads, other builds sharing the cores, so times are +-30%). LAPACK's SVD
// of the centered data (as Xcᵀ [d, n], jobz 'S') computes all n singular vectors; accuracy is over
// the first min(500, n - 1) components against dgesdd: worst 1 - |cos| of an axis / worst
// relative error of an explained variance.
//      n   Gram (this)   sgesdd    dgesdd    Gram accuracy         sgesdd accuracy
//     50       0.13 s     0.14 s    0.36 s   4e-14 / 5e-14         2e-9 / 2e-6
//    200       1.1 s      1.8 s     2.7 s    4e-14 / 3e-13         8e-8 / 2e-6
//   1000       8.9 s     10.8 s    25.8 s    4e-14 / 6e-13         1.3e-3 / 1.9e-4
//   2000      12.3 s     22.7 s    45.4 s    4e-14 / 7e-13         8.8e-4 / 3.2e-4
//   5000      67 s      125 s     (skipped: predicted > 150 s)    vs Gram: 8.4e-3 / 2.8e-4
// The Gram method is the fastest at every size and as accurate as a double SVD; the float SVD
// loses the small components (axes off by up to 0.13 rad at n = 5000), and the double SVD is
// 3-4x slower and needs 2 x 2.4 GB at n = 5000. Re-measured at n = 200, 1000 with the current
// eigensolver choice, in one run: Gram 0.27 s / 2.56 s (4.4e-14 / 5.1e-13 and 4.5e-14 /
// 7.4e-13, as before), sgesdd 0.24 s / 3.43 s, dgesdd 0.52 s / 6.42 s: at n = 200 the float SVD
// now takes the Gram's time, at float accuracy (8e-8 / 2e-6).
#include "engine/pca.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "engine/backend.hpp"
#include "engine/blas.hpp"
#include "engine/error.hpp"
#include "engine/lapack.hpp"
#include "engine/pca_solver.hpp"
#include "engine/random.hpp"
#include "engine/safetensors.hpp"

namespace twp {
namespace {

// Columns of d per double block: 1024 keeps a block of n = 5000 rows at 41 MB while each DSYRK
// still does bs/8 = 128 flops per byte of G it reads and writes.
constexpr int64_t kColumnBlock = 1024;
// Eigenvalues below this fraction of the largest are treated as zero variance: G's own rounding
// is ~1e-16 · λ_1, so below 1e-12 · λ_1 a component would be mostly rounding noise.
constexpr double kZeroVarianceRatio = 1e-12;
// Largest |B·Bᵀ - I| accepted without repair; float storage alone leaves ~1e-8.
constexpr double kOrthonormalTolerance = 1e-6;
// Seed of the deterministic vectors that fill the components past the rank.
constexpr uint64_t kFillSeed = 0x9CA0F111;

// block[n, width] = x[:, c0 : c0 + width] - mean[c0 : c0 + width], in double; x is [n, d].
// These copies stay on one thread: OpenMP loops here (tried) spin beside OpenBLAS's idle workers
// and slowed a fit at n = 200 from 0.34 s to 0.9-3.3 s; plain helper threads gained nothing.
void centered_block(const float* x, int64_t n, int64_t d, const double* mean, int64_t c0,
                    int64_t width, double* block) {
    for (int64_t i = 0; i < n; ++i) {
        const float* row = x + i * d + c0;
        double* out = block + i * width;
        for (int64_t j = 0; j < width; ++j) out[j] = double(row[j]) - mean[c0 + j];
    }
}

// block[rows, width] = a[:, c0 : c0 + width] in double; a is [rows, d].
void column_block(const float* a, int64_t rows, int64_t d, int64_t c0, int64_t width,
                  double* block) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < width; ++j) block[i * width + j] = double(a[i * d + c0 + j]);
}

// a[:, c0 : c0 + width] = block[rows, width] rounded to float; a is [rows, d].
void store_block(const double* block, int64_t rows, int64_t width, float* a, int64_t d,
                 int64_t c0) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < width; ++j) a[i * d + c0 + j] = float(block[i * width + j]);
}

// m[t, t] (lower triangle) = a · aᵀ in double; a is [t, d] float.
std::vector<double> gram_of_rows(const float* a, int64_t t, int64_t d) {
    std::vector<double> m(t * t, 0.0), block(t * std::min(d, kColumnBlock));
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        column_block(a, t, d, c0, width, block.data());
        blas::syrk_lower(t, width, 1.0, block.data(), width, 1.0, m.data(), t);
    }
    return m;
}

// a[t, d] -= (a · bᵀ) · b twice ("twice is enough", Giraud et al. 2005), in double, rounded back
// to float after each pass: classical Gram-Schmidt of the rows of a against the orthonormal rows
// of b[p, d]. first_coefficients[t, p] = a · bᵀ for the first pass (the orthonormality check has
// them already); the second pass's coefficients are summed while the first is applied, block by
// block, so b is read twice instead of four times.
void project_out_twice(float* a, int64_t t, const float* b, int64_t p, int64_t d,
                       const std::vector<double>& first_coefficients) {
    const int64_t block_width = std::min(d, kColumnBlock);
    std::vector<double> second_coefficients(t * p, 0.0), a_block(t * block_width),
        b_block(p * block_width);
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        column_block(a, t, d, c0, width, a_block.data());
        column_block(b, p, d, c0, width, b_block.data());
        blas::gemm(false, false, t, width, p, -1.0, first_coefficients.data(), p, b_block.data(),
                   width, 1.0, a_block.data(), width);
        store_block(a_block.data(), t, width, a, d, c0);
        column_block(a, t, d, c0, width, a_block.data());  // the rounded rows, as pass 2 sees them
        blas::gemm(false, true, t, p, width, 1.0, a_block.data(), width, b_block.data(), width,
                   1.0, second_coefficients.data(), p);
    }
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        column_block(a, t, d, c0, width, a_block.data());
        column_block(b, p, d, c0, width, b_block.data());
        blas::gemm(false, false, t, width, p, -1.0, second_coefficients.data(), p, b_block.data(),
                   width, 1.0, a_block.data(), width);
        store_block(a_block.data(), t, width, a, d, c0);
    }
}

// Makes rows first..k-1 of basis[k, d] orthonormal, to each other and to rows 0..first-1 (which
// must already be): block Gram-Schmidt twice, then Cholesky QR, which keeps the order (row i
// becomes a combination of rows first..i). products[k, k] (lower triangle) = basis · basisᵀ as
// the check computed it; only needed when first > 0.
void orthonormalize_tail(float* basis, int64_t k, int64_t d, int64_t first,
                         const std::vector<double>& products) {
    const int64_t t = k - first;
    float* tail = basis + first * d;
    if (first > 0) {
        std::vector<double> coefficients(t * first);
        for (int64_t i = 0; i < t; ++i)
            std::copy_n(products.data() + (first + i) * k, first, coefficients.data() + i * first);
        project_out_twice(tail, t, basis, first, d, coefficients);
    }
    std::vector<double> m = gram_of_rows(tail, t, d);
    TWP_CHECK(lapack::cholesky_lower(t, m.data()),
              "PCA: components " << first << ".." << k - 1
                                 << " are linearly dependent after Gram-Schmidt; this should not "
                                    "happen for finite input (report it with the data's shape)");
    const int64_t block_width = std::min(d, kColumnBlock);
    std::vector<double> block(t * block_width);
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        column_block(tail, t, d, c0, width, block.data());
        blas::solve_lower(t, width, m.data(), t, block.data(), width);
        store_block(block.data(), t, width, tail, d, c0);
    }
}

// The first of rows 0..rows-1 whose product with itself or an earlier row is off the identity by
// more than kOrthonormalTolerance, given products[k, k] (lower triangle) of the basis rows; rows
// when there is none.
int64_t first_non_orthonormal_row(const std::vector<double>& products, int64_t k, int64_t rows) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j <= i; ++j)
            if (std::abs(products[i * k + j] - (i == j ? 1.0 : 0.0)) > kOrthonormalTolerance)
                return i;
    return rows;
}

// Flips row[d] if its largest-magnitude entry (the first one on a tie) is negative. On the bit
// patterns: for finite floats the magnitude's order is the order of the bits without the sign,
// which compilers vectorize (a float max with ties resolved by index does not).
void apply_sign_rule(float* row, int64_t d) {
    std::vector<uint32_t> bits(d);
    std::memcpy(bits.data(), row, d * sizeof(float));
    uint32_t largest = 0;
    for (int64_t j = 0; j < d; ++j) largest = std::max(largest, bits[j] & 0x7fffffffu);
    int64_t argmax = 0;
    while ((bits[argmax] & 0x7fffffffu) != largest) ++argmax;
    if (row[argmax] < 0)
        for (int64_t j = 0; j < d; ++j) row[j] = -row[j];
}

void check_shapes(const PcaModel& model, int64_t rows, const char* what) {
    TWP_CHECK(model.dim >= 1 && model.components >= 1 &&
                  int64_t(model.mean.size()) == model.dim &&
                  int64_t(model.basis.size()) == model.components * model.dim,
              "PcaModel::" << what << ": the model is empty or inconsistent (dim " << model.dim
                           << ", components " << model.components
                           << "); fit it with fit_pca or load it with load_pca first");
    TWP_CHECK(rows >= 0, "PcaModel::" << what << ": negative row count " << rows);
}

}  // namespace

void PcaModel::transform(const float* x, int64_t rows, float* scores) const {
    check_shapes(*this, rows, "transform");
    if (rows == 0) return;
    const int64_t k = components, d = dim, block_width = std::min(d, kColumnBlock);
    const std::vector<double> mean_double(mean.begin(), mean.end());
    std::vector<double> result(rows * k, 0.0), x_block(rows * block_width), b_block(k * block_width);
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        centered_block(x, rows, d, mean_double.data(), c0, width, x_block.data());
        column_block(basis.data(), k, d, c0, width, b_block.data());
        blas::gemm(false, true, rows, k, width, 1.0, x_block.data(), width, b_block.data(), width,
                   1.0, result.data(), k);
    }
    for (int64_t i = 0; i < rows * k; ++i) scores[i] = float(result[i]);
}

void PcaModel::inverse_transform(const float* scores, int64_t rows, float* x) const {
    check_shapes(*this, rows, "inverse_transform");
    if (rows == 0) return;
    const int64_t k = components, d = dim, block_width = std::min(d, kColumnBlock);
    const std::vector<double> scores_double(scores, scores + rows * k);
    std::vector<double> x_block(rows * block_width), b_block(k * block_width);
    for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
        const int64_t width = std::min(kColumnBlock, d - c0);
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < width; ++j) x_block[i * width + j] = double(mean[c0 + j]);
        column_block(basis.data(), k, d, c0, width, b_block.data());
        blas::gemm(false, false, rows, width, k, 1.0, scores_double.data(), k, b_block.data(),
                   width, 1.0, x_block.data(), width);
        store_block(x_block.data(), rows, width, x, d, c0);
    }
}

namespace {

// The CPU solver: OpenBLAS and LAPACK on the caller's array, in double column blocks.
class CpuPcaSolver final : public PcaSolver {
public:
    std::string name() const override { return "cpu"; }

    // 1. Means (the caller checks them for NaN and Inf before LAPACK sees anything).
    std::vector<double> center(const float* x, int64_t n, int64_t d) override {
        x_ = x;
        n_ = n;
        d_ = d;
        mean_.assign(d, 0.0);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < d; ++j) mean_[j] += double(x[i * d + j]);
        for (int64_t j = 0; j < d; ++j) mean_[j] /= double(n);
        return mean_;
    }

    // 2. Gram matrix of the centered rows, lower triangle; 3. its largest eigenpairs.
    Eigenpairs largest_eigenpairs(int64_t count) override {
        const int64_t n = n_, d = d_;
        std::vector<double> gram(n * n, 0.0), block(n * std::min(d, kColumnBlock));
        for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
            const int64_t width = std::min(kColumnBlock, d - c0);
            centered_block(x_, n, d, mean_.data(), c0, width, block.data());
            blas::syrk_lower(n, width, 1.0, block.data(), width, 1.0, gram.data(), n);
        }
        Eigenpairs result;
        for (int64_t i = 0; i < n; ++i) result.total += gram[i * n + i];
        // When k is a large share of n, all n eigenpairs by divide and conquer (dsyevd) and the k
        // largest kept; for a small share, dsyevr for the k alone (for a subset it runs bisection
        // and inverse iteration, whose cost grows with k). Measured on the bench's Gram matrices
        // (k = 500, 2 cores, contended): n = 1000: dsyevd 0.15-0.28 s, dsyevr 0.33-0.41 s;
        // n = 2000: 1.27 against 1.15 s; n = 4000: 11.4-12.3 against 10.9-11.9 s. Both agree to
        // 3e-13 in the eigenvalues and 1e-15 in 1 - |cos| of the eigenvectors. The CUDA solver
        // always runs syevd: the same eigenpairs to rounding; this split was measured on the CPU.
        result.eigenvalues.resize(count);
        eigenvectors_.resize(count * n);
        if (4 * count <= n) {
            lapack::symmetric_eigen_largest(n, gram.data(), count, result.eigenvalues.data(),
                                            eigenvectors_.data());
        } else {
            std::vector<double> ascending(n);
            lapack::symmetric_eigen_all(n, gram.data(), ascending.data());  // gram: eigenvector rows
            for (int64_t i = 0; i < count; ++i) {
                result.eigenvalues[i] = ascending[n - 1 - i];
                std::copy_n(gram.data() + (n - 1 - i) * n, n, eigenvectors_.data() + i * n);
            }
        }
        eigenvalues_ = result.eigenvalues;
        return result;
    }

    // 4. Xcᵀ u_i / σ_i over double column blocks.
    void components(int64_t rank, float* basis) override {
        const int64_t n = n_, d = d_;
        for (int64_t i = 0; i < rank; ++i) {
            const double inverse_sigma = 1.0 / std::sqrt(eigenvalues_[i]);
            for (int64_t s = 0; s < n; ++s) eigenvectors_[i * n + s] *= inverse_sigma;
        }
        std::vector<double> block(n * std::min(d, kColumnBlock)), product(rank * std::min(d, kColumnBlock));
        for (int64_t c0 = 0; c0 < d; c0 += kColumnBlock) {
            const int64_t width = std::min(kColumnBlock, d - c0);
            centered_block(x_, n, d, mean_.data(), c0, width, block.data());
            blas::gemm(false, false, rank, width, n, 1.0, eigenvectors_.data(), n, block.data(),
                       width, 0.0, product.data(), width);
            store_block(product.data(), rank, width, basis, d, c0);
        }
    }

    void transform(const PcaModel& model, const float* x, int64_t rows, float* scores) override {
        model.transform(x, rows, scores);
    }
    void inverse_transform(const PcaModel& model, const float* scores, int64_t rows,
                           float* x) override {
        model.inverse_transform(scores, rows, x);
    }

private:
    const float* x_ = nullptr;          // [n_, d_], the caller's
    int64_t n_ = 0, d_ = 0;
    std::vector<double> mean_;          // [d_]
    std::vector<double> eigenvalues_;   // [count], decreasing
    std::vector<double> eigenvectors_;  // [count, n_], row i for eigenvalues_[i]
};

}  // namespace

std::unique_ptr<PcaSolver> make_cpu_pca_solver() { return std::make_unique<CpuPcaSolver>(); }

PcaModel fit_pca(PcaSolver& solver, const float* x, int64_t n, int64_t d,
                 int64_t requested_components) {
    TWP_CHECK(n >= 2, "fit_pca: needs at least 2 samples (rows) to estimate a variance, got " << n);
    TWP_CHECK(d >= 1, "fit_pca: the samples have " << d << " features; need at least 1");
    TWP_CHECK(requested_components >= 1,
              "fit_pca: asked for " << requested_components << " components; ask for at least 1");
    TWP_CHECK(x != nullptr, "fit_pca: no data (null pointer for " << n << " x " << d << ")");
    // The fit is one big BLAS call after another: all cores to OpenBLAS for its duration (on the
    // CUDA solver, the host's share: the orthonormality check and repair).
    const blas::ScopedBlasThreads all_cores(omp_get_max_threads());
    const int64_t k = std::min({requested_components, n, d});

    PcaModel model;
    model.dim = d;
    model.components = k;
    model.samples = n;

    // 1. Means; a NaN or Inf anywhere makes its column's sum non-finite (a sum of finite floats
    // cannot overflow a double), which is checked here so LAPACK never sees one.
    const std::vector<double> mean = solver.center(x, n, d);
    TWP_CHECK(int64_t(mean.size()) == d, "fit_pca: the " << solver.name() << " solver returned "
                                                         << mean.size() << " means for " << d
                                                         << " features");
    for (int64_t j = 0; j < d; ++j)
        TWP_CHECK(std::isfinite(mean[j]), "fit_pca: feature " << j
                                              << " holds a NaN or infinite value; PCA needs "
                                                 "finite data (check the snapshot that produced it)");
    model.mean.assign(mean.begin(), mean.end());

    // 2-3. The Gram matrix of the centered rows, its trace and its k largest eigenpairs.
    const PcaSolver::Eigenpairs eigen = solver.largest_eigenpairs(k);
    const std::vector<double>& eigenvalues = eigen.eigenvalues;
    const double largest = eigenvalues[0];
    int64_t rank = 0;  // components with real variance
    while (rank < k && largest > 0 && eigenvalues[rank] > kZeroVarianceRatio * largest) ++rank;

    // 4. Components with variance: Xcᵀ u_i / σ_i.
    model.basis.assign(k * d, 0.0f);
    if (rank > 0) solver.components(rank, model.basis.data());

    // 5. Components past the rank start from deterministic pseudo-random vectors, which the next
    // step makes orthonormal to the rest (any fixed vectors would do; random ones are far from the
    // span of the others, so that is well conditioned).
    Rng fill(kFillSeed, RngStream::kInit);
    for (int64_t i = rank * d; i < k * d; ++i) model.basis[i] = fill.uniform(1.0f);

    // 6. Orthonormality, repaired from the first row that is off.
    // The products cover the filled rows too, so that their first Gram-Schmidt pass needs no
    // second product with the good rows.
    std::vector<double> products;  // [k, k], lower triangle: basis · basisᵀ
    int64_t first_bad = 0;
    if (rank > 0) {
        products = gram_of_rows(model.basis.data(), k, d);
        // A NaN or Inf entry of a component makes its squared norm non-finite (a finite float's
        // square cannot overflow a double), so the entries are searched only then.
        for (int64_t i = 0; i < rank; ++i) {
            if (std::isfinite(products[i * k + i])) continue;
            for (int64_t j = 0; j < d; ++j)
                TWP_CHECK(std::isfinite(model.basis[i * d + j]),
                          "fit_pca: the " << solver.name()
                                          << " solver gave a non-finite component entry " << j
                                          << " of component " << i);
        }
        first_bad = first_non_orthonormal_row(products, k, rank);
    }
    if (first_bad < k) orthonormalize_tail(model.basis.data(), k, d, first_bad, products);

    // 7. Sign rule.
    for (int64_t i = 0; i < k; ++i) apply_sign_rule(model.basis.data() + i * d, d);

    model.explained_variance.assign(k, 0.0);
    model.explained_variance_ratio.assign(k, 0.0);
    for (int64_t i = 0; i < rank; ++i) {
        model.explained_variance[i] = eigenvalues[i] / double(n - 1);
        model.explained_variance_ratio[i] = std::min(1.0, eigenvalues[i] / eigen.total);
    }
    return model;
}

PcaModel fit_pca(const float* x, int64_t n, int64_t d, int64_t requested_components) {
    CpuPcaSolver solver;
    return fit_pca(solver, x, n, d, requested_components);
}

namespace {

std::unique_ptr<PcaSolver> solver_of(Backend& backend) {
    std::unique_ptr<PcaSolver> solver = backend.pca_solver();
    return solver ? std::move(solver) : make_cpu_pca_solver();
}

}  // namespace

PcaModel fit_pca(Backend& backend, const float* x, int64_t n, int64_t d,
                 int64_t requested_components) {
    return fit_pca(*solver_of(backend), x, n, d, requested_components);
}

void PcaModel::transform(Backend& backend, const float* x, int64_t rows, float* scores) const {
    check_shapes(*this, rows, "transform");
    if (rows == 0) return;
    solver_of(backend)->transform(*this, x, rows, scores);
}

void PcaModel::inverse_transform(Backend& backend, const float* scores, int64_t rows,
                                 float* x) const {
    check_shapes(*this, rows, "inverse_transform");
    if (rows == 0) return;
    solver_of(backend)->inverse_transform(*this, scores, rows, x);
}

void save_pca(const std::filesystem::path& path, const PcaModel& model) {
    check_shapes(model, 0, "save_pca");
    TWP_CHECK(int64_t(model.explained_variance.size()) == model.components &&
                  int64_t(model.explained_variance_ratio.size()) == model.components,
              "save_pca: explained variance arrays do not have " << model.components
                                                                 << " entries");
    SafetensorsFile file;
    file.metadata["format"] = "twp-pca";
    file.metadata["samples"] = std::to_string(model.samples);
    file.tensors.push_back(make_f32_tensor("mean", {model.dim}, model.mean.data()));
    file.tensors.push_back(
        make_f32_tensor("basis", {model.components, model.dim}, model.basis.data()));
    file.tensors.push_back(make_tensor("explained_variance", DType::F64, {model.components},
                                       model.explained_variance.data()));
    file.tensors.push_back(make_tensor("explained_variance_ratio", DType::F64,
                                       {model.components}, model.explained_variance_ratio.data()));
    save_safetensors(path, file);
}

PcaModel load_pca(const std::filesystem::path& path) {
    const SafetensorsFile file = load_safetensors(path);
    const std::string where = "PCA file '" + path.string() + "'";
    const auto format = file.metadata.find("format");
    TWP_CHECK(format != file.metadata.end() && format->second == "twp-pca",
              where << " is not a twp PCA model (metadata \"format\" is not \"twp-pca\"); write "
                       "it with save_pca");

    const auto tensor = [&](const char* name, DType dtype, size_t rank) -> const TensorRecord& {
        const TensorRecord& record = file.at(name);
        TWP_CHECK(record.dtype == dtype, where << ": \"" << name << "\" is "
                                               << dtype_name(record.dtype) << ", expected "
                                               << dtype_name(dtype));
        TWP_CHECK(record.shape.size() == rank, where << ": \"" << name << "\" has "
                                                     << record.shape.size()
                                                     << " dimensions, expected " << rank);
        return record;
    };
    const TensorRecord& mean = tensor("mean", DType::F32, 1);
    const TensorRecord& basis = tensor("basis", DType::F32, 2);
    const TensorRecord& variance = tensor("explained_variance", DType::F64, 1);
    const TensorRecord& ratio = tensor("explained_variance_ratio", DType::F64, 1);

    PcaModel model;
    model.dim = mean.shape[0];
    model.components = basis.shape[0];
    TWP_CHECK(model.dim >= 1 && model.components >= 1 && model.components <= model.dim,
              where << ": needs 1 <= components <= dim, found components " << model.components
                    << ", dim " << model.dim);
    TWP_CHECK(basis.shape[1] == model.dim, where << ": \"basis\" has rows of " << basis.shape[1]
                                                 << " values but \"mean\" has " << model.dim);
    TWP_CHECK(variance.shape[0] == model.components && ratio.shape[0] == model.components,
              where << ": \"explained_variance\" and \"explained_variance_ratio\" must have "
                    << model.components << " entries (one per basis row), found "
                    << variance.shape[0] << " and " << ratio.shape[0]);

    const auto samples = file.metadata.find("samples");
    TWP_CHECK(samples != file.metadata.end(), where << " lacks the \"samples\" metadata");
    size_t parsed = 0;
    try {
        model.samples = std::stoll(samples->second, &parsed);
    } catch (const std::exception&) {
        parsed = 0;
    }
    TWP_CHECK(parsed == samples->second.size() && model.samples >= 2,
              where << ": metadata \"samples\" must be an integer >= 2, found \""
                    << samples->second << "\"");

    model.mean.assign(mean.f32(), mean.f32() + model.dim);
    model.basis.assign(basis.f32(), basis.f32() + model.components * model.dim);
    model.explained_variance.assign(variance.f64(), variance.f64() + model.components);
    model.explained_variance_ratio.assign(ratio.f64(), ratio.f64() + model.components);
    for (int64_t j = 0; j < model.dim; ++j)
        TWP_CHECK(std::isfinite(model.mean[j]), where << ": \"mean\"[" << j << "] is not finite");
    for (int64_t i = 0; i < model.components; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < model.dim; ++j) {
            const float v = model.basis[i * model.dim + j];
            TWP_CHECK(std::isfinite(v), where << ": \"basis\"[" << i << ", " << j
                                              << "] is not finite");
            norm += double(v) * v;
        }
        TWP_CHECK(std::abs(std::sqrt(norm) - 1.0) < 1e-3,
                  where << ": \"basis\" row " << i << " has length " << std::sqrt(norm)
                        << ", not 1; the file is damaged");
        TWP_CHECK(std::isfinite(model.explained_variance[i]) && model.explained_variance[i] >= 0,
                  where << ": \"explained_variance\"[" << i << "] = "
                        << model.explained_variance[i] << " must be finite and >= 0");
        TWP_CHECK(model.explained_variance_ratio[i] >= 0 && model.explained_variance_ratio[i] <= 1,
                  where << ": \"explained_variance_ratio\"[" << i << "] = "
                        << model.explained_variance_ratio[i] << " must be in [0, 1]");
    }
    return model;
}

}  // namespace twp
