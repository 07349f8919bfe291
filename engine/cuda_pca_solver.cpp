// engine/cuda_pca_solver.hpp. The device arrays are row-major like the host ones; the
// column-major mapping of cuBLAS and cuSOLVER lives in kernels/gemm.cu and kernels/eigen.cu.
#include "engine/cuda_pca_solver.hpp"

#include <algorithm>
#include <chrono>

#include "engine/error.hpp"
#include "kernels/eigen.cuh"
#include "kernels/gemm.cuh"
#include "kernels/pca.cuh"

namespace twp {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds since `start`, after the stream has finished what was queued (the stage's end).
double stage_end(kernels::Stream stream, Clock::time_point& start) {
    kernels::synchronize(stream);
    const Clock::time_point now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - start).count();
    start = now;
    return seconds;
}

}  // namespace

CudaPcaSolver::CudaPcaSolver(const kernels::LibraryHandles& libraries, int64_t column_block)
    : libraries_(libraries), stream_(libraries.stream()), column_block_(column_block) {
    TWP_CHECK(column_block >= 1, "CudaPcaSolver: column block of " << column_block << " columns");
}

std::vector<double> CudaPcaSolver::center(const float* x, int64_t n, int64_t d) {
    TWP_CHECK(n >= 1 && d >= 1 && x, "CudaPcaSolver::center: no data (" << n << " x " << d << ")");
    seconds_ = {};
    n_ = n;
    d_ = d;
    count_ = 0;
    Clock::time_point start = Clock::now();
    x_ = kernels::DeviceArray<float>(n * d);
    kernels::copy_to_device(x_.data(), x, x_.bytes(), stream_);
    seconds_.upload = stage_end(stream_, start);
    mean_ = kernels::DeviceArray<double>(d);
    kernels::pca_column_means(x_.data(), n, d, mean_.data(), stream_);
    std::vector<double> mean = mean_.download(stream_);
    seconds_.means = stage_end(stream_, start);
    return mean;
}

PcaSolver::Eigenpairs CudaPcaSolver::largest_eigenpairs(int64_t count) {
    TWP_CHECK(n_ >= 1, "CudaPcaSolver: largest_eigenpairs before center");
    TWP_CHECK(count >= 1 && count <= n_, "CudaPcaSolver: " << count << " eigenpairs of a " << n_ << " x "
                                                           << n_ << " Gram matrix");
    const int64_t n = n_, d = d_, width_max = std::min(d, column_block_);
    Clock::time_point start = Clock::now();
    gram_ = kernels::DeviceArray<double>(n * n);
    block_ = kernels::DeviceArray<double>(n * width_max);
    for (int64_t c0 = 0; c0 < d; c0 += column_block_) {
        const int64_t width = std::min(column_block_, d - c0);
        kernels::pca_center_columns(x_.data(), n, d, c0, width, mean_.data(), block_.data(), stream_);
        // beta 0 on the first block: G starts as the first block's product, no zero fill needed.
        kernels::syrk_lower(n, width, 1.0, block_.data(), width, c0 == 0 ? 0.0 : 1.0, gram_.data(), n,
                            libraries_);
    }
    kernels::DeviceArray<double> trace(1);
    kernels::pca_trace(gram_.data(), n, trace.data(), stream_);
    Eigenpairs result;
    result.total = trace.download(stream_)[0];
    seconds_.gram = stage_end(stream_, start);

    eigenvalues_ = kernels::DeviceArray<double>(n);
    kernels::symmetric_eigen_all(n, gram_.data(), eigenvalues_.data(), libraries_);
    const std::vector<double> ascending = eigenvalues_.download(stream_);
    result.eigenvalues.assign(ascending.rbegin(), ascending.rbegin() + count);
    count_ = count;
    seconds_.eigensolver = stage_end(stream_, start);
    return result;
}

void CudaPcaSolver::components(int64_t rank, float* basis) {
    TWP_CHECK(count_ >= 1, "CudaPcaSolver: components before largest_eigenpairs");
    TWP_CHECK(rank >= 1 && rank <= count_, "CudaPcaSolver: " << rank << " components of " << count_
                                                             << " eigenpairs");
    const int64_t n = n_, d = d_, width_max = std::min(d, column_block_);
    Clock::time_point start = Clock::now();
    kernels::DeviceArray<double> scaled(rank * n), product(rank * width_max);
    kernels::DeviceArray<float> device_basis(rank * d);
    kernels::pca_scaled_top_eigenvectors(gram_.data(), eigenvalues_.data(), n, rank, scaled.data(), stream_);
    for (int64_t c0 = 0; c0 < d; c0 += column_block_) {
        const int64_t width = std::min(column_block_, d - c0);
        kernels::pca_center_columns(x_.data(), n, d, c0, width, mean_.data(), block_.data(), stream_);
        kernels::gemm(false, false, rank, width, n, 1.0, scaled.data(), n, block_.data(), width, 0.0,
                      product.data(), width, libraries_);
        kernels::pca_store_columns(product.data(), rank, width, nullptr, device_basis.data(), d, c0, stream_);
    }
    seconds_.components = stage_end(stream_, start);
    kernels::copy_to_host(basis, device_basis.data(), device_basis.bytes(), stream_);
    seconds_.download = stage_end(stream_, start);
}

void CudaPcaSolver::transform(const PcaModel& model, const float* x, int64_t rows, float* scores) {
    const int64_t k = model.components, d = model.dim, width_max = std::min(d, column_block_);
    const kernels::DeviceArray<double> mean(std::vector<double>(model.mean.begin(), model.mean.end()));
    const kernels::DeviceArray<float> basis(model.basis);
    kernels::DeviceArray<float> device_x(rows * d), device_scores(rows * k);
    kernels::copy_to_device(device_x.data(), x, device_x.bytes(), stream_);
    kernels::DeviceArray<double> x_block(rows * width_max), basis_block(k * width_max), result(rows * k);
    // scores[rows, k] = sum over column blocks of (x - mean)[:, block] · basis[:, block]ᵀ.
    for (int64_t c0 = 0; c0 < d; c0 += column_block_) {
        const int64_t width = std::min(column_block_, d - c0);
        kernels::pca_center_columns(device_x.data(), rows, d, c0, width, mean.data(), x_block.data(), stream_);
        kernels::pca_center_columns(basis.data(), k, d, c0, width, nullptr, basis_block.data(), stream_);
        kernels::gemm(false, true, rows, k, width, 1.0, x_block.data(), width, basis_block.data(), width,
                      c0 == 0 ? 0.0 : 1.0, result.data(), k, libraries_);
    }
    kernels::pca_store_columns(result.data(), rows, k, nullptr, device_scores.data(), k, 0, stream_);
    kernels::copy_to_host(scores, device_scores.data(), device_scores.bytes(), stream_);
}

void CudaPcaSolver::inverse_transform(const PcaModel& model, const float* scores, int64_t rows,
                                      float* x) {
    const int64_t k = model.components, d = model.dim, width_max = std::min(d, column_block_);
    const kernels::DeviceArray<double> mean(std::vector<double>(model.mean.begin(), model.mean.end()));
    const kernels::DeviceArray<float> basis(model.basis);
    kernels::DeviceArray<float> device_scores(rows * k), device_x(rows * d);
    kernels::copy_to_device(device_scores.data(), scores, device_scores.bytes(), stream_);
    kernels::DeviceArray<double> scores_double(rows * k), basis_block(k * width_max), product(rows * width_max);
    kernels::pca_center_columns(device_scores.data(), rows, k, 0, k, nullptr, scores_double.data(), stream_);
    // x[:, block] = scores · basis[:, block] + mean[block], rounded to float once.
    for (int64_t c0 = 0; c0 < d; c0 += column_block_) {
        const int64_t width = std::min(column_block_, d - c0);
        kernels::pca_center_columns(basis.data(), k, d, c0, width, nullptr, basis_block.data(), stream_);
        kernels::gemm(false, false, rows, width, k, 1.0, scores_double.data(), k, basis_block.data(), width, 0.0,
                      product.data(), width, libraries_);
        kernels::pca_store_columns(product.data(), rows, width, mean.data(), device_x.data(), d, c0, stream_);
    }
    kernels::copy_to_host(x, device_x.data(), device_x.bytes(), stream_);
}

}  // namespace twp
