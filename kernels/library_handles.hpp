// The cuBLAS and cuSOLVER handles of one stream, made together when a CUDA backend is made and
// kept for its life: creating a handle allocates, and allocation is refused inside a CUDA-graph
// capture, so a handle made lazily by the first GEMM would break a capture that holds the
// process's first GEMM (base training captures its first full step). cuBLAS also gets one
// persistent workspace (cublasSetWorkspace, after cublasSetStream), so no GEMM allocates either,
// captured or not. Both handles are bound to the stream once, here; the GEMMs and solvers
// (kernels/gemm.cuh, kernels/eigen.cuh) queue their work on it.
// Plain C++ (no CUDA header). Under the CUDA emulation the handles are tokens, but making them
// is refused inside a capture exactly as on a GPU, and the workspace is real (host) memory.
#pragma once

#include <cstddef>

#include "kernels/stream.hpp"

namespace twp::kernels {

// cuBLAS math modes twp uses (the handle is shared by every GEMM of a backend, so each GEMM sets
// the one it needs): pedantic FP32 for float GEMMs that must agree with the CPU, TF32 tensor cores
// for --tf32, and the default for the double GEMMs of the PCA.
enum class MathMode { kDefault, kPedantic, kTf32 };

class LibraryHandles {
public:
    // cuBLAS recommends 32 MiB of workspace on Hopper (4 MiB is enough before it).
    static constexpr std::size_t kCublasWorkspaceBytes = std::size_t(32) << 20;

    explicit LibraryHandles(Stream stream);  // throws what failed; nothing is left behind then
    ~LibraryHandles();
    LibraryHandles(const LibraryHandles&) = delete;
    LibraryHandles& operator=(const LibraryHandles&) = delete;

    Stream stream() const { return stream_; }
    void* cublas() const { return cublas_; }      // cublasHandle_t
    void* cusolver() const { return cusolver_; }  // cusolverDnHandle_t

    void set_math_mode(MathMode mode) const;  // cublasSetMathMode
    MathMode math_mode() const;               // cublasGetMathMode (tests check what a GEMM left)

private:
    void release() noexcept;

    Stream stream_;
    void* cublas_ = nullptr;
    void* cusolver_ = nullptr;
    void* workspace_ = nullptr;  // [kCublasWorkspaceBytes] device memory
    mutable MathMode emulated_math_ = MathMode::kPedantic;  // the emulation's record of the mode
};

}  // namespace twp::kernels
