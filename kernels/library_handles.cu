// kernels/library_handles.hpp: cuBLAS and cuSOLVER under nvcc; tokens and a host workspace under
// the CUDA emulation, made under the same capture rules.
#include "kernels/cuda_compat.hpp"

#include "kernels/library_handles.hpp"

#include "engine/error.hpp"
#include "kernels/device_memory.hpp"

#if defined(__CUDACC__)
#include "kernels/library_status.hpp"
#else
#include "kernels/emu/capture.hpp"
#endif

namespace twp::kernels {

#if defined(__CUDACC__)

namespace {

cublasMath_t cublas_math(MathMode mode) {
    switch (mode) {
        case MathMode::kDefault: return CUBLAS_DEFAULT_MATH;
        case MathMode::kPedantic: return CUBLAS_PEDANTIC_MATH;
        case MathMode::kTf32: return CUBLAS_TF32_TENSOR_OP_MATH;
    }
    return CUBLAS_PEDANTIC_MATH;
}

}  // namespace

LibraryHandles::LibraryHandles(Stream stream) : stream_(stream) {
    const auto s = static_cast<cudaStream_t>(stream);
    try {
        cublasHandle_t blas = nullptr;
        TWP_CUBLAS_CHECK(cublasCreate(&blas));
        cublas_ = blas;
        TWP_CUBLAS_CHECK(cublasSetStream(blas, s));
        // After cublasSetStream, which resets the workspace to cuBLAS's own pool (allocated on
        // demand, so possibly inside a capture).
        workspace_ = device_alloc(kCublasWorkspaceBytes);
        TWP_CUBLAS_CHECK(cublasSetWorkspace(blas, workspace_, kCublasWorkspaceBytes));
        TWP_CUBLAS_CHECK(cublasSetMathMode(blas, CUBLAS_PEDANTIC_MATH));
        cusolverDnHandle_t solver = nullptr;
        TWP_CUSOLVER_CHECK(cusolverDnCreate(&solver));
        cusolver_ = solver;
        TWP_CUSOLVER_CHECK(cusolverDnSetStream(solver, s));
    } catch (...) {
        release();
        throw;
    }
}

void LibraryHandles::release() noexcept {
    // cublasDestroy waits for the device, so the workspace is no longer in use when it goes.
    if (cusolver_) cusolverDnDestroy(static_cast<cusolverDnHandle_t>(cusolver_));
    if (cublas_) cublasDestroy(static_cast<cublasHandle_t>(cublas_));
    device_free(workspace_);
    cusolver_ = cublas_ = workspace_ = nullptr;
}

void LibraryHandles::set_math_mode(MathMode mode) const {
    TWP_CUBLAS_CHECK(cublasSetMathMode(static_cast<cublasHandle_t>(cublas_), cublas_math(mode)));
}

MathMode LibraryHandles::math_mode() const {
    cublasMath_t mode = CUBLAS_DEFAULT_MATH;
    TWP_CUBLAS_CHECK(cublasGetMathMode(static_cast<cublasHandle_t>(cublas_), &mode));
    const unsigned base = unsigned(mode) & ~unsigned(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
    if (base == unsigned(CUBLAS_PEDANTIC_MATH)) return MathMode::kPedantic;
    if (base == unsigned(CUBLAS_TF32_TENSOR_OP_MATH)) return MathMode::kTf32;
    TWP_CHECK(base == unsigned(CUBLAS_DEFAULT_MATH), "cuBLAS math mode " << base << " is none twp sets");
    return MathMode::kDefault;
}

#else  // the CUDA emulation

namespace {
char handle_token;  // what the emulated handles point at
}  // namespace

LibraryHandles::LibraryHandles(Stream stream) : stream_(stream) {
    // What matters of cublasCreate and cusolverDnCreate here: they allocate, so a capture refuses
    // them (and the workspace's allocation) as it does on a GPU.
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cublasCreate"));
    TWP_CUDA_CHECK(emu::refuse_while_capturing("cusolverDnCreate"));
    workspace_ = device_alloc(kCublasWorkspaceBytes);
    cublas_ = cusolver_ = &handle_token;
}

void LibraryHandles::release() noexcept {
    device_free(workspace_);
    cusolver_ = cublas_ = workspace_ = nullptr;
}

void LibraryHandles::set_math_mode(MathMode mode) const { emulated_math_ = mode; }
MathMode LibraryHandles::math_mode() const { return emulated_math_; }

#endif

LibraryHandles::~LibraryHandles() { release(); }

}  // namespace twp::kernels
