// Principal component analysis of weight snapshots on the CPU (OpenBLAS + LAPACKE), the way
// scikit-learn's PCA defines it: rows are samples (snapshots), columns features (LeNet-5's 61,706
// weights); the data is centered by its column mean; components are the right singular vectors of
// the centered data, in decreasing order of variance; explained_variance = singular value² / (n-1).
// All arrays are row-major float32 (the snapshots' type); the fit computes in double.
//
// Sign rule (scikit-learn >= 1.5, svd_flip with u_based_decision=False): every component's entry
// of largest magnitude (the first one, on ties) is positive, so a fit is reproducible and does not
// depend on the solver's arbitrary signs. Older scikit-learn (1.2 in Debian 12) chooses the sign
// from the scores instead, so its components may differ from ours by a sign per component.
//
// Precision and threads: the fit gives OpenBLAS all cores for its duration (CpuBackend otherwise
// pins it to one thread) and restores the previous setting after.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace twp {

class Backend;    // engine/backend.hpp
class PcaSolver;  // engine/pca_solver.hpp

struct PcaModel {
    int64_t dim = 0;                                // d, features per sample
    int64_t components = 0;                         // k
    int64_t samples = 0;                            // n, the rows the fit saw
    std::vector<float> mean;                        // [d], column means of the fitted data
    std::vector<float> basis;                       // [k, d], orthonormal rows (principal axes)
    std::vector<double> explained_variance;         // [k], eigenvalue / (n - 1), decreasing
    std::vector<double> explained_variance_ratio;   // [k], share of the total variance, in [0, 1]

    // scores[rows, k] = (x[rows, d] - mean) · basisᵀ, computed in double.
    void transform(const float* x, int64_t rows, float* scores) const;
    // x[rows, d] = scores[rows, k] · basis + mean, computed in double. With k = rank of the fitted
    // data, inverse_transform(transform(row)) gives back a training row.
    void inverse_transform(const float* scores, int64_t rows, float* x) const;
    // The same on a backend: on the CUDA backend cuBLAS DGEMMs over the uploaded model and rows
    // (host arrays in and out; the model is uploaded at each call), on the CPU backend the two
    // functions above.
    void transform(Backend& backend, const float* x, int64_t rows, float* scores) const;
    void inverse_transform(Backend& backend, const float* scores, int64_t rows, float* x) const;
};

// Fits on x[n, d] (row-major, finite values; n >= 2, d >= 1). The model keeps
// k = min(requested_components, n, d) components; the caller reports it when it is fewer than
// asked. Components past the rank of the centered data (at most n - 1) carry no variance: they
// get explained variance 0 and a deterministic unit vector orthogonal to all the others, never NaN.
PcaModel fit_pca(const float* x, int64_t n, int64_t d, int64_t requested_components);
// The same fit on a backend (x is host memory): on the CUDA backend the data is uploaded and the
// centering, the Gram matrix, the eigensolver (cuSOLVER) and the components run on the device;
// the host does the rest (rank cut, zero-variance tail, orthonormality repair, sign rule), the
// same code as the CPU fit. On the CPU backend it is the CPU fit above.
PcaModel fit_pca(Backend& backend, const float* x, int64_t n, int64_t d,
                 int64_t requested_components);
// The fit with an explicit solver (engine/pca_solver.hpp); the two above call it.
PcaModel fit_pca(PcaSolver& solver, const float* x, int64_t n, int64_t d,
                 int64_t requested_components);

// safetensors file: "mean" F32 [d], "basis" F32 [k, d], "explained_variance" and
// "explained_variance_ratio" F64 [k]; metadata "format" = "twp-pca", "samples" = n. Written
// atomically. load_pca checks names, dtypes, shapes, finiteness and unit-length rows, and every
// error names the file and what is wrong.
void save_pca(const std::filesystem::path& path, const PcaModel& model);
PcaModel load_pca(const std::filesystem::path& path);

}  // namespace twp
