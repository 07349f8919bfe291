// kernels/eigen.cuh: cuSOLVER under nvcc, LAPACK under the CUDA emulation.
#include "kernels/cuda_compat.hpp"

#include "kernels/eigen.cuh"

#include <limits>

#include "engine/error.hpp"
#include "kernels/device_memory.hpp"

#if defined(__CUDACC__)
#include "kernels/library_status.hpp"
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

// devInfo after a cuSOLVER call: copied to the host (waits for the stream) and checked.
void check_info(const DeviceArray<int>& info, Stream stream, const char* call, int64_t m, int64_t n,
                const char* positive_meaning) {
    const int value = info.download(stream)[0];
    TWP_CHECK(value == 0, call << " on a " << m << " x " << n << " matrix failed with devInfo "
                               << value << (value < 0 ? " (bad argument)" : positive_meaning)
                               << "; check the input for NaN or Inf");
}

#endif

}  // namespace

void symmetric_eigen_all(int64_t n, double* a, double* eigenvalues, const LibraryHandles& libraries) {
    TWP_CHECK(n >= 1, "symmetric_eigen_all: empty " << n << " x " << n << " matrix");
    const int size = to_int(n, "n");
    const Stream stream = libraries.stream();
#if defined(__CUDACC__)
    const auto handle = static_cast<cusolverDnHandle_t>(libraries.cusolver());
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
    // cuSOLVER's calls wait for their devInfo (a synchronous copy), which a capture refuses.
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cusolverDnDsyevd (waits for devInfo)"));
    lapack::symmetric_eigen_all(n, a, eigenvalues);
#endif
}

void svd_left(int64_t m, int64_t n, double* a, int64_t lda, double* singular_values, double* u,
              int64_t ldu, const LibraryHandles& libraries) {
    TWP_CHECK(n >= 1 && m >= n && lda >= m && ldu >= m,
              "svd_left: needs m >= n >= 1, lda >= m, ldu >= m (cusolverDnDgesvd takes tall matrices "
              "only); got m " << m << ", n " << n << ", lda " << lda << ", ldu " << ldu);
    const Stream stream = libraries.stream();
#if defined(__CUDACC__)
    const auto handle = static_cast<cusolverDnHandle_t>(libraries.cusolver());
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
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cusolverDnDgesvd (waits for devInfo)"));
    lapack::svd_left(m, n, a, lda, singular_values, u, ldu);
#endif
}

}  // namespace twp::kernels
