// The CUDA backend: device memory, the hand-written kernels of kernels/, cuBLAS GEMMs, one stream
// per backend, and CUDA graphs for capture(). Plain C++ (no CUDA header): this file and
// engine/cuda_backend.cpp are compiled twice, against the kernels built by nvcc (twp_cuda_backend,
// the GPU) and against the same kernels under the CUDA emulation (twp_cuda_backend_emu, the CPU
// tests), so the backend code the GPU runs is the code the CPU tests check.
//
// It runs every op of the Backend interface: everything LeNet-5 base training and scoring need,
// and the transformer's elementwise ops, layer norm, dropout, attention (kernels/attention.cu:
// sequences up to 32 positions), MSE and Adam; and the PCA's heavy steps through pca_solver()
// (engine/cuda_pca_solver.*: cuBLAS in double, cuSOLVER).
#pragma once

#include <memory>

#include "engine/backend.hpp"
#include "kernels/library_handles.hpp"

namespace twp {

class CudaBackend final : public Backend {
public:
    // tf32: the GEMMs (linear layers, projections) use TF32 tensor cores (twp --tf32); off by
    // default, so the GPU agrees with the CPU in fp32.
    explicit CudaBackend(int device = 0, bool tf32 = false);
    ~CudaBackend() override;
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    std::string name() const override { return "cuda"; }
    std::string description() const override;
    // The attention kernels keep a window's scores in shared memory (kernels::kAttentionMaxSeq).
    std::int64_t max_attention_sequence() const override;
    bool memory_is_host() const override { return false; }
    bool emulated() const;  // built against the CUDA emulation (CPU tests)
    void* stream() const { return stream_; }  // kernels::Stream every op is queued on (benchmarks time it)
    // The cuBLAS and cuSOLVER handles on that stream, made with the backend (never inside a capture).
    const kernels::LibraryHandles& libraries() const { return *libraries_; }

    void* allocate_bytes(std::size_t bytes) override;
    void free_bytes(void* pointer) noexcept override;
    void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override;
    void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override;
    void synchronize() override;
    void fill(Tensor x, float value) override;
    void copy_device(void* device_dst, const void* device_src, std::size_t bytes) override;
    std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) override;
    void replay(CapturedWork& work) override;
    // PCA on cuBLAS and cuSOLVER (engine/cuda_pca_solver.hpp), on this backend's stream.
    std::unique_ptr<PcaSolver> pca_solver() override;

    void gather_rows(Tensor src, IndexTensor rows, Tensor dst) override;
    void gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst) override;

    std::int64_t conv2d_workspace_floats(Shape x, Shape w, int padding) const override;
    void conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding, Activation activation,
                        Pass pass, Tensor workspace) override;
    void conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db,
                         int padding, Tensor workspace) override;

    void maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax) override;
    void maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx) override;

    void relu_forward(Tensor x, Tensor y) override;
    void relu_backward(Tensor y, Tensor dy, Tensor dx) override;

    void linear_forward(Tensor x, Tensor w, Tensor b, Tensor y, Activation activation) override;
    void linear_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) override;

    void softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                       IndexTensor correct) override;
    void softmax_cross_entropy_backward(Tensor logits, IndexTensor labels,
                                        Tensor dlogits) override;

    void normal_fill(Tensor x, uint64_t seed, uint64_t offset) override;
    void timestep_embedding_forward(Tensor t, Tensor emb) override;
    void timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt) override;
    void row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out) override;
    void row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy, Tensor da,
                              Tensor dc) override;

    void sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer,
                    const SgdConfig& config) override;

    // The transformer's ops.
    void add(Tensor a, Tensor b, Tensor y) override;
    void add_row_broadcast(Tensor x, Tensor row, Tensor y) override;
    void scatter_rows(Tensor src, IndexTensor rows, Tensor dst) override;
    void layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean,
                            Tensor rstd) override;
    void layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy, Tensor dx,
                             Tensor dgamma, Tensor dbeta) override;
    void dropout_forward(Tensor x, Tensor y, DropoutSpec spec) override;
    void dropout_backward(Tensor dy, Tensor dx, DropoutSpec spec) override;
    // Not on the GPU yet: each throws a twp::Error naming the op.
    void attention_forward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs,
                           Tensor out) override;
    void attention_backward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor dout,
                            Tensor dqkv) override;
    void mse_loss_forward(Tensor pred, Tensor target, Tensor loss) override;
    void mse_loss_backward(Tensor pred, Tensor target, Tensor dpred) override;
    void adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                     const AdamConfig& config) override;

private:
    int device_;
    bool tf32_;
    void* stream_;  // kernels::Stream
    std::unique_ptr<kernels::LibraryHandles> libraries_;  // bound to stream_
};

}  // namespace twp
