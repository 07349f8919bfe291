// The backend interface: memory and the ops the models need, each with forward and backward.
// The model and the training loop are written once against this interface; the CPU backend
// (engine/cpu_backend.*) is the reference implementation, and a CUDA backend implements the same
// calls with kernels. Nothing here includes a CUDA header.
//
// Conventions shared by every op:
// - tensors are Views into memory this backend allocated (see engine/tensor.hpp for the layout);
// - the batch size is the first dimension of the input views, so a partial last batch is just a
//   shorter view of the same buffers;
// - backward ops *write* gradients (they never accumulate into them), so no zeroing is needed;
// - an optional output (e.g. a gradient nobody needs, like the input image's) is an empty view;
// - calls are asynchronous on devices that allow it; copy_to_host and synchronize wait.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/op_params.hpp"  // Activation, Pass, DropoutSpec, SgdConfig, AdamConfig
#include "engine/pca_solver.hpp"
#include "engine/tensor.hpp"

namespace twp {

// Work recorded once by Backend::capture and replayed with Backend::replay (a CUDA graph).
class CapturedWork {
public:
    virtual ~CapturedWork() = default;
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string name() const = 0;         // "cpu", "cuda"
    virtual std::string description() const = 0;  // device, threads, libraries: for logs and config.txt

    // ---- capabilities: what callers ask instead of comparing name() ----
    // The longest sequence attention_forward/backward take; 0: no limit.
    virtual std::int64_t max_attention_sequence() const = 0;
    // Whether the memory this backend allocates is host memory: the host may look at an op's
    // output without a copy worth avoiding (the CPU), rather than across a bus (a device).
    virtual bool memory_is_host() const = 0;
    // Host threads the ops may use: the most this backend was given, and how many the next ops
    // use (1..max_threads; what the ops compute does not depend on it). A device backend runs its
    // ops on the device: 1, and use_threads changes nothing.
    virtual int max_threads() const { return 1; }
    virtual void use_threads(int threads) { (void)threads; }

    // ---- memory (owned through Buffer<T>, engine/buffer.hpp) ----
    virtual void* allocate_bytes(std::size_t bytes) = 0;
    virtual void free_bytes(void* pointer) noexcept = 0;
    virtual void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) = 0;
    virtual void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) = 0;
    virtual void synchronize() = 0;
    virtual void fill(Tensor x, float value) = 0;
    // Device memory to device memory, queued like an op (the regions must not overlap).
    virtual void copy_device(void* device_dst, const void* device_src, std::size_t bytes) = 0;

    // ---- capture: record the backend calls `work` makes, once, and replay them later ----
    // For a loop whose every iteration makes the same calls on the same memory (a training step
    // on fixed buffers): the first iteration captures, every iteration replays, and the launch
    // overhead of the calls is paid once. Capturing does not run the work. Between capture and
    // replay nothing may be freed that the work uses. Backends that gain nothing return nullptr
    // and the caller simply calls `work` each time. Inside `work`: only ops and copy_device (no
    // copies to or from the host, no synchronize).
    virtual std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) {
        (void)work;
        return nullptr;
    }
    virtual void replay(CapturedWork& work) {
        (void)work;
        TWP_FAIL(name() << " backend: replay of work it never captured");
    }

    // ---- PCA: the solver behind fit_pca(Backend&, ...) and the backend transforms (engine/pca.hpp) ----
    // nullptr (the default) means the CPU solver; the CUDA backend returns its cuBLAS/cuSOLVER one.
    virtual std::unique_ptr<PcaSolver> pca_solver() { return nullptr; }

    // ---- data ----
    // dst[i] = src[rows[i]] for whole rows: src [N, ...], rows [B], dst [B, ...] (same row size).
    virtual void gather_rows(Tensor src, IndexTensor rows, Tensor dst) = 0;
    virtual void gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst) = 0;

    // ---- conv2d, stride 1, zero padding `padding` on every side ----
    // x [B, Ci, H, W], w [Co, Ci, K, K], b [Co], y [B, Co, H + 2p - K + 1, W + 2p - K + 1]
    // = activation(conv(x, w) + b).
    // workspace: floats sized by conv2d_workspace_floats for the largest batch, owned by the layer.
    // A kTraining forward may leave data there that backward of the same layer and batch reads, so
    // a layer's workspace must not be shared with another layer between its forward and backward.
    virtual std::int64_t conv2d_workspace_floats(Shape x, Shape w, int padding) const = 0;
    virtual void conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding,
                                Activation activation, Pass pass, Tensor workspace) = 0;
    // dx (optional) [B, Ci, H, W], dw like w, db like b; the weight gradients sum over the batch.
    virtual void conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db,
                                 int padding, Tensor workspace) = 0;

    // ---- 2x2 max pooling, stride 2 (H and W even) ----
    // x [B, C, H, W] -> y [B, C, H/2, W/2]; argmax [B, C, H/2, W/2] records the winner's position
    // 0..3 inside its window (first maximum wins, as PyTorch); backward routes dy there.
    virtual void maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax) = 0;
    virtual void maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx) = 0;

    // ---- ReLU, elementwise; y may alias x, dx may alias dy ----
    virtual void relu_forward(Tensor x, Tensor y) = 0;
    virtual void relu_backward(Tensor y, Tensor dy, Tensor dx) = 0;  // uses the output y > 0

    // ---- linear: y [B, Out] = activation(x [B, In] · w[Out, In]^T + b [Out]) ----
    virtual void linear_forward(Tensor x, Tensor w, Tensor b, Tensor y, Activation activation) = 0;
    virtual void linear_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) = 0;

    // ---- softmax cross-entropy over logits [B, K] with labels [B] in 0..K-1 ----
    // losses [B]: each row's -log softmax(logits)[label]; correct [B]: 1 where argmax == label.
    virtual void softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                               IndexTensor correct) = 0;
    // dlogits [B, K]: gradient of the batch *mean* loss, (softmax - onehot) / B.
    virtual void softmax_cross_entropy_backward(Tensor logits, IndexTensor labels,
                                                Tensor dlogits) = 0;

    // ---- elementwise ----
    virtual void add(Tensor a, Tensor b, Tensor y) = 0;                     // y = a + b, same sizes; y may alias a or b
    virtual void add_row_broadcast(Tensor x, Tensor row, Tensor y) = 0;     // x,y [R, M] (any shape whose numel is a multiple of row.numel()), y[r] = x[r] + row; y may alias x
    virtual void scatter_rows(Tensor src, IndexTensor rows, Tensor dst) = 0; // dst[rows[i]] = src[i] (whole rows, src [B, ...], dst [N, ...]); other rows untouched; the transpose of gather_rows
    // ---- layer norm over the last dimension, as torch.nn.LayerNorm (biased variance) ----
    // x, y [N, D]; gamma, beta [D]; mean, rstd [N] saved for backward (rstd = 1/sqrt(var + eps)).
    virtual void layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) = 0;
    virtual void layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor dgamma, Tensor dbeta) = 0;  // dgamma/dbeta summed over rows, written not accumulated
    // ---- dropout ----
    virtual void dropout_forward(Tensor x, Tensor y, DropoutSpec spec) = 0;   // y may alias x
    virtual void dropout_backward(Tensor dy, Tensor dx, DropoutSpec spec) = 0; // same mask; dx may alias dy
    // ---- multi-head self-attention core, as inside torch.nn.MultiheadAttention (batch_first) ----
    // qkv [B, S, 3D]: q, k, v side by side along the last dimension (the packed in-projection's output);
    // head h uses columns h*Dh .. (h+1)*Dh - 1 of each, Dh = D / heads.
    // probs [B, heads, S, S] = softmax(q k^T / sqrt(Dh)) over the last axis, saved for backward (before dropout);
    // out [B, S, D] = dropout(probs) · v, heads concatenated in order. The dropout element index is the
    // linear index into probs.
    virtual void attention_forward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor out) = 0;
    virtual void attention_backward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor dout, Tensor dqkv) = 0;
    // ---- mean squared error over all elements (torch.nn.MSELoss, reduction 'mean') ----
    virtual void mse_loss_forward(Tensor pred, Tensor target, Tensor loss) = 0;       // loss [1]
    virtual void mse_loss_backward(Tensor pred, Tensor target, Tensor dpred) = 0;     // dpred = 2 (pred - target) / numel
    // ---- Adam over one flat parameter buffer: step counts from 1 ----
    // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
    virtual void adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step, const AdamConfig& config) = 0;

    // ---- diffusion: noise, timestep embedding, per-row combinations (experiment/diffusion_*) ----
    // x (any shape): x[i] = standard_normal(seed, offset + i) (engine/random.hpp), so that any
    // backend draws the same noise (to the last few ulps of its libm).
    virtual void normal_fill(Tensor x, uint64_t seed, uint64_t offset) = 0;
    // t [B] (timesteps, as floats) -> emb [B, E], E even, h = E/2, f_i = 10000^(-i/h):
    // emb[b, i] = sin(t_b f_i), emb[b, h + i] = cos(t_b f_i) (the transformer's sinusoids, as DDPM).
    virtual void timestep_embedding_forward(Tensor t, Tensor emb) = 0;
    // dt [B] = sum_i demb[b, i] d emb[b, i] / d t_b.
    virtual void timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt) = 0;
    // out [B, ...] = a[b] x[b] + c[b] y[b] row by row: a, c [B]; x, y, out [B, ...] of one size;
    // out may alias x or y. The noising x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps and a DDIM step.
    virtual void row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out) = 0;
    // dx = a dout, dy = c dout, da[b] = dout[b] . x[b], dc[b] = dout[b] . y[b]; each optional (empty);
    // dx and dy must not alias dout (da and dc read it after them).
    virtual void row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy,
                                      Tensor da, Tensor dc) = 0;

    // ---- optimizers, over one flat parameter buffer ----
    // torch.optim.SGD: d = g + wd*p; buf = momentum*buf + d (buf starts at 0, which equals
    // PyTorch's first-step clone); p -= lr*buf. params, grads, momentum_buffer: [N].
    virtual void sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer,
                            const SgdConfig& config) = 0;
};

}  // namespace twp
