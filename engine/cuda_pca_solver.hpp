// The PCA solver of the CUDA backend (engine/pca_solver.hpp): the heavy steps of the fit on the
// device, the host logic around them shared with the CPU (engine/pca.cpp):
//   center: x[n, d] uploaded as float; column means in double (kernels/pca.cuh);
//   largest_eigenpairs: G[n, n] = Xc · Xcᵀ accumulated in double over column blocks (the
//     centering kernel writes a [n, column_block] double block, cublasDsyrk adds it in), its trace,
//     and all n eigenpairs by cusolverDnDsyevd (kernels/eigen.cuh); the k largest are its last k;
//   components: the top `rank` eigenvectors reversed and divided by sigma (one kernel), then per
//     column block cublasDgemm (rank x n) · (n x block) and rounding into the float basis, which
//     is downloaded;
//   transform / inverse_transform: centered double blocks and cublasDgemm, as PcaModel's own.
// Why Gram + syevd and not gesvd on the d x n column-major data: see kernels/README.md and
// bench/bench_pca_gpu.cpp (--compare-gesvd).
// Memory: x (4nd bytes) + G (8n²) + one block (8n·column_block) + the scaled eigenvectors and
// product (8·rank·(n + column_block)) + the float basis (4·rank·d): 1.9 GB at n = 5000, k = 500,
// d = 61,706 with the default block.
// Plain C++ over the kernels' launchers: compiled for the GPU (twp_cuda_backend) and against the
// CUDA emulation (twp_cuda_backend_emu, the CPU tests), as engine/cuda_backend.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/pca_solver.hpp"
#include "kernels/device_memory.hpp"
#include "kernels/library_handles.hpp"

namespace twp {

class CudaPcaSolver final : public PcaSolver {
public:
    // 8192 columns: n = 5000 gives a 328 MB double block and DSYRKs of 8192-deep products.
    static constexpr int64_t kDefaultColumnBlock = 8192;

    // Work runs on the backend's cuBLAS and cuSOLVER handles and is queued on their stream;
    // column_block >= 1 (tests use small ones to cover several blocks and a partial last one).
    explicit CudaPcaSolver(const kernels::LibraryHandles& libraries, int64_t column_block = kDefaultColumnBlock);

    std::string name() const override { return "cuda"; }
    std::vector<double> center(const float* x, int64_t n, int64_t d) override;
    Eigenpairs largest_eigenpairs(int64_t count) override;
    void components(int64_t rank, float* basis) override;
    void transform(const PcaModel& model, const float* x, int64_t rows, float* scores) override;
    void inverse_transform(const PcaModel& model, const float* scores, int64_t rows,
                           float* x) override;

    // Host-clock seconds of each stage of the last fit, the stream synchronized at each boundary
    // (for bench/bench_pca_gpu.cpp; the fit waits at those points anyway, for its results).
    struct StageSeconds {
        double upload = 0;       // x to the device
        double means = 0;        // column means, and their download
        double gram = 0;         // centering + DSYRK over the blocks, trace
        double eigensolver = 0;  // cusolverDnDsyevd, eigenvalues downloaded
        double components = 0;   // scaled eigenvectors, DGEMM per block, rounding to float
        double download = 0;     // the basis to the host
    };
    const StageSeconds& stage_seconds() const { return seconds_; }

private:
    const kernels::LibraryHandles& libraries_;
    kernels::Stream stream_;  // libraries_.stream()
    int64_t column_block_;
    int64_t n_ = 0, d_ = 0, count_ = 0;
    kernels::DeviceArray<float> x_;             // [n_, d_], the snapshots
    kernels::DeviceArray<double> mean_;         // [d_]
    kernels::DeviceArray<double> gram_;         // [n_, n_]; after the eigensolver, row i is the
                                                // eigenvector of eigenvalues_[i]
    kernels::DeviceArray<double> eigenvalues_;  // [n_], ascending
    kernels::DeviceArray<double> block_;        // [n_, column_block_], centered columns
    StageSeconds seconds_;
};

}  // namespace twp
