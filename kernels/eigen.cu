// kernels/eigen.cuh: cuSOLVER under nvcc, LAPACK under the CUDA emulation.
#include "kernels/cuda_compat.hpp"

#include "kernels/eigen.cuh"

#include <limits>

#include "engine/error.hpp"
#include "kernels/device_memory.hpp"

#if defined(__CUDACC__)
#include <cusolverDn.h>
#else
#include "engine/lapack.hpp"
#include "kernels/emu/capture.hpp"
#endif

namespace twp::kernels {
namespace {

int to_int(int64_t value, const char* what) {
    TWP_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(),
              "cuSOLVER " << what << " = " << value << " beyond 32-bit indices");
    return int(value);
}

#if defined(__CUDACC__)

const char* cusolver_status_name(cusolverStatus_t status) {
    switch (status) {
        case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED (out of GPU memory: use --no_cuda)";
        case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
        case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
        case CUSOLVER_STATUS_MAPPING_ERROR: return "CUSOLVER_STATUS_MAPPING_ERROR";
        case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
        case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
        case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
        default: return "unknown cuSOLVER status";
    }
}

#define TWP_CUSOLVER_CHECK(call)                                                               \
    do {                                                                                       \
        const cusolverStatus_t twp_cusolver_status_ = (call);                                  \
        if (twp_cusolver_status_ != CUSOLVER_STATUS_SUCCESS)                                   \
            TWP_FAIL(#call " failed: " << cusolver_status_name(twp_cusolver_status_));         \
    } while (0)

// One cuSOLVER handle per host thread and device, created on first use and kept for the process,
// as gemm.cu does for cuBLAS.
cusolverDnHandle_t solver_for_current_device() {
    struct Handles {
        cusolverDnHandle_t handles[64] = {};
        ~Handles() {
            for (cusolverDnHandle_t h : handles)
                if (h) cusolverDnDestroy(h);
        }
    };
    thread_local Handles cache;
    int device = 0;
    TWP_CUDA_CHECK(cudaGetDevice(&device));
    TWP_CHECK(device >= 0 && device < 64, "CUDA device index " << device << " out of range");
    cusolverDnHandle_t& handle = cache.handles[device];
    if (!handle) TWP_CUSOLVER_CHECK(cusolverDnCreate(&handle));
    return handle;
}

// devInfo after a cuSOLVER call: copied to the host (waits for the stream) and checked.
void check_info(const DeviceArray<int>& info, Stream stream, const char* call, int64_t m, int64_t n,
                const char* positive_meaning) {
    const int value = info.download(stream)[0];
    TWP_CHECK(value == 0, call << " on a " << m << " x " << n << " matrix failed with devInfo "
                               << value << (value < 0 ? " (bad argument)" : positive_meaning)
                               << "; check the input for NaN or Inf");
}

#else

void refuse_capture(const char* what) {
    TWP_CHECK(!emu::capturing(), what << " waits for its devInfo and cannot be captured in a CUDA graph");
}

#endif

}  // namespace

void symmetric_eigen_all(int64_t n, double* a, double* eigenvalues, Stream stream) {
    TWP_CHECK(n >= 1, "symmetric_eigen_all: empty " << n << " x " << n << " matrix");
    const int size = to_int(n, "n");
#if defined(__CUDACC__)
    cusolverDnHandle_t handle = solver_for_current_device();
    TWP_CUSOLVER_CHECK(cusolverDnSetStream(handle, static_cast<cudaStream_t>(stream)));
    // The row-major lower triangle is the column-major upper one; the column-major eigenvectors
    // (columns of a) are the rows of the row-major array.
    int lwork = 0;
    TWP_CUSOLVER_CHECK(cusolverDnDsyevd_bufferSize(handle, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER,
                                                   size, a, size, eigenvalues, &lwork));
    DeviceArray<double> work(lwork);
    DeviceArray<int> info(1);
    TWP_CUSOLVER_CHECK(cusolverDnDsyevd(handle, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER, size, a,
                                        size, eigenvalues, work.data(), lwork, info.data()));
    check_info(info, stream, "cusolverDnDsyevd", n, n, " (did not converge)");
#else
    (void)stream;
    (void)size;
    refuse_capture("symmetric_eigen_all");
    lapack::symmetric_eigen_all(n, a, eigenvalues);
#endif
}

void svd_left(int64_t m, int64_t n, double* a, int64_t lda, double* singular_values, double* u,
              int64_t ldu, Stream stream) {
    TWP_CHECK(n >= 1 && m >= n && lda >= m && ldu >= m,
              "svd_left: needs m >= n >= 1, lda >= m, ldu >= m (cusolverDnDgesvd takes tall matrices "
              "only); got m " << m << ", n " << n << ", lda " << lda << ", ldu " << ldu);
#if defined(__CUDACC__)
    cusolverDnHandle_t handle = solver_for_current_device();
    TWP_CUSOLVER_CHECK(cusolverDnSetStream(handle, static_cast<cudaStream_t>(stream)));
    int lwork = 0;
    TWP_CUSOLVER_CHECK(cusolverDnDgesvd_bufferSize(handle, to_int(m, "m"), to_int(n, "n"), &lwork));
    DeviceArray<double> work(lwork), superb(n);
    DeviceArray<int> info(1);
    TWP_CUSOLVER_CHECK(cusolverDnDgesvd(handle, 'S', 'N', to_int(m, "m"), to_int(n, "n"), a, to_int(lda, "lda"),
                                        singular_values, u, to_int(ldu, "ldu"), nullptr, 1, work.data(), lwork,
                                        superb.data(), info.data()));
    check_info(info, stream, "cusolverDnDgesvd", m, n, " (superdiagonals did not converge)");
#else
    (void)stream;
    refuse_capture("svd_left");
    lapack::svd_left(m, n, a, lda, singular_values, u, ldu);
#endif
}

}  // namespace twp::kernels
