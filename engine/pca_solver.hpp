// The heavy linear algebra of a PCA fit and of the transforms, behind one interface, so that the
// logic around it (component count, rank cut, the zero-variance tail, re-orthonormalization, the
// sign rule, explained variance: engine/pca.cpp's fit_pca(PcaSolver&, ...)) is written once and
// shared by the CPU (BLAS + LAPACK) and the CUDA backend (cuBLAS + cuSOLVER,
// engine/cuda_pca_solver.hpp). Plain C++: no CUDA header. A backend hands out its solver through
// Backend::pca_solver(); nullptr there means the CPU solver (make_cpu_pca_solver()).
//
// A fit calls, in order: center (once), largest_eigenpairs (once), components (at most once).
// All host arrays are row-major; x must stay valid until the fit ends (the CPU solver reads it
// in place, the CUDA one copies it to the device in center).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/pca.hpp"

namespace twp {

class PcaSolver {
public:
    virtual ~PcaSolver() = default;
    virtual std::string name() const = 0;  // "cpu", "cuda"

    // Takes x[n, d] (host, float; n >= 2, d >= 1) and returns its column means [d] in double. A
    // NaN or Inf in a column makes its mean non-finite: the caller checks before going on.
    virtual std::vector<double> center(const float* x, int64_t n, int64_t d) = 0;

    // The `count` largest eigenpairs (1 <= count <= n) of G[n, n] = Xc · Xcᵀ, Xc the centered x:
    // eigenvalues[count] in decreasing order; `total` = trace(G), the sum of all n eigenvalues.
    // The eigenvectors stay with the solver for components().
    struct Eigenpairs {
        std::vector<double> eigenvalues;  // [count], decreasing
        double total = 0;
    };
    virtual Eigenpairs largest_eigenpairs(int64_t count) = 0;

    // basis[rank, d] (host, float) = the first `rank` principal axes, Xcᵀ u_i / sqrt(λ_i) for the
    // `rank` largest eigenpairs, all with λ_i > 0 (1 <= rank <= count).
    virtual void components(int64_t rank, float* basis) = 0;

    // PcaModel::transform / inverse_transform, computed in double (host arrays in and out).
    virtual void transform(const PcaModel& model, const float* x, int64_t rows, float* scores) = 0;
    virtual void inverse_transform(const PcaModel& model, const float* scores, int64_t rows,
                                   float* x) = 0;
};

// OpenBLAS and LAPACK on the host: engine/pca.cpp's original path.
std::unique_ptr<PcaSolver> make_cpu_pca_solver();

}  // namespace twp
