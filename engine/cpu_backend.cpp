// CpuBackend: shape checks (engine/op_checks.hpp), then the reference ops of engine/cpu/.
#include "engine/cpu_backend.hpp"

#include <omp.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "engine/blas.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/op_checks.hpp"

namespace twp {
namespace {

constexpr std::size_t kAlignment = 64;  // a cache line and an AVX-512 vector
// Buffers of at least this many bytes start on a 2 MiB boundary and ask for transparent huge
// pages: a 188 MB training set or a batch-1000 workspace then takes one page fault per 2 MiB
// instead of one per 4 KiB when first touched (where the kernel leaves THP to madvise, as
// Debian's does), and the gathers that read them miss the TLB less.
constexpr std::size_t kHugePage = std::size_t(2) << 20;

void check_labels(const IndexTensor& labels, int64_t classes) {
    for (int64_t i = 0; i < labels.numel(); ++i)
        TWP_CHECK(labels.data[i] >= 0 && labels.data[i] < classes,
                  "label " << labels.data[i] << " at row " << i << " outside 0.." << classes - 1);
}

}  // namespace

CpuBackend::CpuBackend(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
    threads_ = omp_get_max_threads();
    blas::use_single_threaded_blas();
}

void CpuBackend::use_threads(int threads) {
    TWP_CHECK(threads >= 1 && threads <= threads_,
              "use_threads(" << threads << "): this CPU backend has 1.." << threads_ << " threads");
    omp_set_num_threads(threads);
}

std::string CpuBackend::description() const {
    std::ostringstream text;
    text << "CPU, " << threads_ << " OpenMP threads, " << blas::blas_description();
    return text.str();
}

void* CpuBackend::allocate_bytes(std::size_t bytes) {
    const std::size_t alignment = bytes >= kHugePage ? kHugePage : kAlignment;
    const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    void* pointer = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
    if (!pointer) TWP_FAIL("out of host memory allocating " << bytes << " bytes");
    // Advice only: where THP is off or unsupported the buffer keeps its small pages.
    if (alignment == kHugePage) (void)madvise(pointer, rounded, MADV_HUGEPAGE);
    return pointer;
}

void CpuBackend::free_bytes(void* pointer) noexcept { std::free(pointer); }

void CpuBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
    std::memcpy(device_dst, host_src, bytes);
}

void CpuBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
    std::memcpy(host_dst, device_src, bytes);
}

void CpuBackend::copy_device(void* device_dst, const void* device_src, std::size_t bytes) {
    if (bytes) std::memcpy(device_dst, device_src, bytes);
}

void CpuBackend::fill(Tensor x, float value) {
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) x.data[i] = value;
}

void CpuBackend::gather_rows(Tensor src, IndexTensor rows, Tensor dst) {
    const int64_t row_size = checks::gather_rows(src, rows, dst);
    for (int64_t i = 0; i < rows.numel(); ++i) {
        TWP_CHECK(rows.data[i] >= 0 && rows.data[i] < src.dim(0),
                  "gather_rows: row " << rows.data[i] << " outside 0.." << src.dim(0) - 1);
        std::memcpy(dst.data + i * row_size, src.data + rows.data[i] * row_size,
                    sizeof(float) * row_size);
    }
}

void CpuBackend::gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst) {
    checks::gather_labels(rows, dst);
    for (int64_t i = 0; i < rows.numel(); ++i) {
        TWP_CHECK(rows.data[i] >= 0 && rows.data[i] < src.numel(),
                  "gather_labels: row " << rows.data[i] << " outside 0.." << src.numel() - 1);
        dst.data[i] = src.data[rows.data[i]];
    }
}

std::int64_t CpuBackend::conv2d_workspace_floats(Shape x, Shape w, int padding) const {
    return cpu::conv2d_workspace_size(checks::conv2d(x, w, padding));
}

void CpuBackend::conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding,
                                Activation activation, Pass pass, Tensor workspace) {
    const Conv2dDims d = checks::conv2d(x, w, b, y, padding);
    checks::workspace(workspace, cpu::conv2d_workspace_size(d), "conv2d_forward");
    (void)pass;  // the CPU forward keeps nothing for backward, so both passes run the same
    cpu::conv2d_forward(x.data, w.data, b.data, y.data, d, activation == Activation::kRelu, workspace.data);
}

void CpuBackend::conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db,
                                 int padding, Tensor workspace) {
    const Conv2dDims d = checks::conv2d_backward(x, w, dy, dx, dw, db, padding);
    checks::workspace(workspace, cpu::conv2d_workspace_size(d), "conv2d_backward");
    cpu::conv2d_backward(x.data, w.data, dy.data, dx.data, dw.data, db.data, d, workspace.data);
}

void CpuBackend::maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax) {
    checks::maxpool2(x, y, argmax);
    cpu::maxpool2_forward(x.data, y.data, argmax.data, x.dim(0) * x.dim(1), x.dim(2), x.dim(3));
}

void CpuBackend::maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx) {
    checks::maxpool2(dx, dy, argmax);
    cpu::maxpool2_backward(dy.data, argmax.data, dx.data, dx.dim(0) * dx.dim(1), dx.dim(2),
                           dx.dim(3));
}

void CpuBackend::relu_forward(Tensor x, Tensor y) {
    checks::same_size(x, y, "relu_forward");
    cpu::relu_forward(x.data, y.data, x.numel());
}

void CpuBackend::relu_backward(Tensor y, Tensor dy, Tensor dx) {
    checks::relu_backward(y, dy, dx);
    cpu::relu_backward(y.data, dy.data, dx.data, y.numel());
}

void CpuBackend::linear_forward(Tensor x, Tensor w, Tensor b, Tensor y, Activation activation) {
    checks::linear(x, w, b, y);
    cpu::linear_forward(x.data, w.data, b.data, y.data, x.dim(0), x.dim(1), w.dim(0));
    if (activation == Activation::kRelu) cpu::relu_forward(y.data, y.data, y.numel());
}

void CpuBackend::linear_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
    checks::linear_backward(x, w, dy, dx, dw, db);
    cpu::linear_backward(x.data, w.data, dy.data, dx.data, dw.data, db.data, x.dim(0), x.dim(1),
                         w.dim(0));
}

void CpuBackend::softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                               IndexTensor correct) {
    checks::softmax_cross_entropy_forward(logits, labels, losses, correct);
    check_labels(labels, logits.dim(1));
    cpu::softmax_cross_entropy_forward(logits.data, labels.data, losses.data, correct.data,
                                       logits.dim(0), logits.dim(1));
}

void CpuBackend::softmax_cross_entropy_backward(Tensor logits, IndexTensor labels,
                                                Tensor dlogits) {
    checks::softmax_cross_entropy_backward(logits, labels, dlogits);
    check_labels(labels, logits.dim(1));
    cpu::softmax_cross_entropy_backward(logits.data, labels.data, dlogits.data, logits.dim(0),
                                        logits.dim(1));
}

void CpuBackend::add(Tensor a, Tensor b, Tensor y) {
    checks::add(a, b, y);
    cpu::add(a.data, b.data, y.data, a.numel());
}

void CpuBackend::add_row_broadcast(Tensor x, Tensor row, Tensor y) {
    const int64_t rows = checks::row_broadcast(x, row, y);
    cpu::add_row_broadcast(x.data, row.data, y.data, rows, row.numel());
}

void CpuBackend::scatter_rows(Tensor src, IndexTensor rows, Tensor dst) {
    const int64_t row_size = checks::scatter_rows(src, rows, dst);
    for (int64_t i = 0; i < rows.numel(); ++i)
        TWP_CHECK(rows.data[i] >= 0 && rows.data[i] < dst.dim(0),
                  "scatter_rows: row " << rows.data[i] << " outside 0.." << dst.dim(0) - 1);
    cpu::scatter_rows(src.data, rows.data, dst.data, rows.numel(), row_size);
}

void CpuBackend::layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y,
                                    Tensor mean, Tensor rstd) {
    checks::layer_norm_forward(x, gamma, beta, eps, y, mean, rstd);
    cpu::layer_norm_forward(x.data, gamma.data, beta.data, double(eps), y.data, mean.data,
                            rstd.data, x.dim(0), x.dim(1));
}

void CpuBackend::layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy,
                                     Tensor dx, Tensor dgamma, Tensor dbeta) {
    checks::layer_norm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
    cpu::layer_norm_backward(x.data, gamma.data, mean.data, rstd.data, dy.data, dx.data,
                             dgamma.data, dbeta.data, x.dim(0), x.dim(1));
}

void CpuBackend::dropout_forward(Tensor x, Tensor y, DropoutSpec spec) {
    checks::dropout(x, y, spec, "dropout_forward");
    cpu::dropout(x.data, y.data, x.numel(), spec);
}

void CpuBackend::dropout_backward(Tensor dy, Tensor dx, DropoutSpec spec) {
    checks::dropout(dy, dx, spec, "dropout_backward");
    cpu::dropout(dy.data, dx.data, dy.numel(), spec);  // the same mask and scale: dropout is linear
}

void CpuBackend::attention_forward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs,
                                   Tensor out) {
    const AttentionDims d = checks::attention_forward(qkv, heads, dropout, probs, out);
    cpu::attention_forward(qkv.data, probs.data, out.data, d, dropout);
}

void CpuBackend::attention_backward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs,
                                    Tensor dout, Tensor dqkv) {
    const AttentionDims d = checks::attention_backward(qkv, heads, dropout, probs, dout, dqkv);
    cpu::attention_backward(qkv.data, probs.data, dout.data, dqkv.data, d, dropout);
}

void CpuBackend::mse_loss_forward(Tensor pred, Tensor target, Tensor loss) {
    checks::mse_loss_forward(pred, target, loss);
    cpu::mse_loss_forward(pred.data, target.data, loss.data, pred.numel());
}

void CpuBackend::mse_loss_backward(Tensor pred, Tensor target, Tensor dpred) {
    checks::mse_loss_backward(pred, target, dpred);
    cpu::mse_loss_backward(pred.data, target.data, dpred.data, pred.numel());
}

void CpuBackend::adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                             const AdamConfig& config) {
    checks::adam_update(params, grads, m, v, step);
    cpu::adam_update(params.data, grads.data, m.data, v.data, params.numel(), step,
                     config.learning_rate, config.beta1, config.beta2, config.eps);
}

void CpuBackend::normal_fill(Tensor x, uint64_t seed, uint64_t offset) {
    cpu::normal_fill(x.data, x.numel(), seed, offset);
}

void CpuBackend::timestep_embedding_forward(Tensor t, Tensor emb) {
    checks::timestep_embedding(t, emb, "timestep_embedding_forward");
    cpu::timestep_embedding_forward(t.data, emb.data, emb.dim(0), emb.dim(1));
}

void CpuBackend::timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt) {
    checks::timestep_embedding(t, demb, "timestep_embedding_backward");
    TWP_CHECK(dt.shape == t.shape, "timestep_embedding_backward: dt " << dt.shape.str() << " vs t " << t.shape.str());
    cpu::timestep_embedding_backward(t.data, demb.data, dt.data, demb.dim(0), demb.dim(1));
}

void CpuBackend::row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out) {
    const int64_t width = checks::row_combine(a, x, c, y, out, "row_combine_forward");
    cpu::row_combine_forward(a.data, x.data, c.data, y.data, out.data, x.dim(0), width);
}

void CpuBackend::row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy,
                                      Tensor da, Tensor dc) {
    const int64_t width = checks::row_combine(a, x, c, y, dout, "row_combine_backward");
    checks::row_combine_gradients(a, x, dx, dy, da, dc);
    cpu::row_combine_backward(a.data, x.data, c.data, y.data, dout.data, dx.data, dy.data, da.data, dc.data,
                              x.dim(0), width);
}

void CpuBackend::sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer,
                            const SgdConfig& config) {
    checks::sgd_update(params, grads, momentum_buffer);
    cpu::sgd_update(params.data, grads.data, momentum_buffer.data, params.numel(),
                    config.learning_rate, config.momentum, config.weight_decay);
}

}  // namespace twp
