// The CPU backend: host memory (64-byte aligned), the reference ops of engine/cpu/, OpenBLAS
// GEMMs pinned to one thread each and OpenMP across the batch. It is the reference every other
// backend is tested against.
#pragma once

#include <memory>

#include "engine/backend.hpp"

namespace twp {

class CpuBackend final : public Backend {
public:
    // threads <= 0: OpenMP's default (all cores).
    explicit CpuBackend(int threads = 0);

    std::string name() const override { return "cpu"; }
    std::string description() const override;
    std::int64_t max_attention_sequence() const override { return 0; }
    bool memory_is_host() const override { return true; }
    int max_threads() const override { return threads_; }
    void use_threads(int threads) override;

    void* allocate_bytes(std::size_t bytes) override;
    void free_bytes(void* pointer) noexcept override;
    void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override;
    void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override;
    void synchronize() override {}
    void fill(Tensor x, float value) override;
    void copy_device(void* device_dst, const void* device_src, std::size_t bytes) override;

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

    void add(Tensor a, Tensor b, Tensor y) override;
    void add_row_broadcast(Tensor x, Tensor row, Tensor y) override;
    void scatter_rows(Tensor src, IndexTensor rows, Tensor dst) override;
    void layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean,
                            Tensor rstd) override;
    void layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy, Tensor dx,
                             Tensor dgamma, Tensor dbeta) override;
    void dropout_forward(Tensor x, Tensor y, DropoutSpec spec) override;
    void dropout_backward(Tensor dy, Tensor dx, DropoutSpec spec) override;
    void attention_forward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs,
                           Tensor out) override;
    void attention_backward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor dout,
                            Tensor dqkv) override;
    void mse_loss_forward(Tensor pred, Tensor target, Tensor loss) override;
    void mse_loss_backward(Tensor pred, Tensor target, Tensor dpred) override;
    void adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                     const AdamConfig& config) override;

    void normal_fill(Tensor x, uint64_t seed, uint64_t offset) override;
    void timestep_embedding_forward(Tensor t, Tensor emb) override;
    void timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt) override;
    void row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out) override;
    void row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy, Tensor da,
                              Tensor dc) override;

    void sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer,
                    const SgdConfig& config) override;

private:
    int threads_;
};

}  // namespace twp
