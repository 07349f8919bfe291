// engine/cuda_backend.hpp: each op checks its shapes (in the kernels' launchers, with
// engine/op_checks.hpp) and queues its kernels on the backend's stream.
#include "engine/cuda_backend.hpp"

#include <sstream>

#include "engine/cuda_pca_solver.hpp"
#include "engine/device_probe.hpp"
#include "engine/op_checks.hpp"
#include "kernels/adam.cuh"
#include "kernels/add.cuh"
#include "kernels/attention.cuh"
#include "kernels/bias.cuh"
#include "kernels/conv2d.cuh"
#include "kernels/device.cuh"
#include "kernels/device_memory.hpp"
#include "kernels/dropout.cuh"
#include "kernels/fill.cuh"
#include "kernels/gather.cuh"
#include "kernels/gemm.cuh"
#include "kernels/layer_norm.cuh"
#include "kernels/maxpool2.cuh"
#include "kernels/mse_loss.cuh"
#include "kernels/normal_fill.cuh"
#include "kernels/relu.cuh"
#include "kernels/row_combine.cuh"
#include "kernels/scatter_rows.cuh"
#include "kernels/sgd.cuh"
#include "kernels/softmax_cross_entropy.cuh"
#include "kernels/timestep_embedding.cuh"

namespace twp {

namespace {

class CudaGraph final : public CapturedWork {
public:
    explicit CudaGraph(kernels::Graph graph) : graph_(graph) {}
    ~CudaGraph() override { kernels::destroy_graph(graph_); }
    kernels::Graph get() const { return graph_; }

private:
    kernels::Graph graph_;
};

kernels::GemmMath gemm_math(bool tf32) { return tf32 ? kernels::GemmMath::kTf32 : kernels::GemmMath::kFp32; }

}  // namespace

// Everything that allocates is made here, never lazily by a first op: the first op may well be
// inside a CUDA-graph capture (base training captures a step), where allocating is refused.
CudaBackend::CudaBackend(int device, bool tf32) : device_(device), tf32_(tf32) {
    kernels::set_device(device);
    stream_ = kernels::create_stream();
    try {
        libraries_ = std::make_unique<kernels::LibraryHandles>(stream_);
    } catch (...) {
        kernels::destroy_stream(stream_);
        throw;
    }
}

CudaBackend::~CudaBackend() {
    try {
        kernels::synchronize(stream_);
    } catch (...) {
        // A failed kernel already reported its error; the stream goes anyway.
    }
    libraries_.reset();
    kernels::destroy_stream(stream_);
}

bool CudaBackend::emulated() const { return !kernels::native_gpu_build(); }

std::int64_t CudaBackend::max_attention_sequence() const { return kernels::kAttentionMaxSeq; }

std::string CudaBackend::description() const {
    if (emulated()) return "cuda (emulated on the CPU: kernels/emu, CPU BLAS for the GEMMs)";
    const DeviceProbe probe = probe_devices();
    for (const CudaDevice& d : probe.devices)
        if (d.index == device_) {
            std::ostringstream text;
            text.precision(3);
            text << "cuda device " << d.index << ": " << d.name << ", compute capability " << d.major << "."
                 << d.minor << ", " << d.memory_gib << " GiB; driver " << probe.driver_version / 1000 << "."
                 << probe.driver_version % 1000 / 10 << ", runtime " << probe.runtime_version / 1000 << "."
                 << probe.runtime_version % 1000 / 10 << "; cuBLAS for the GEMMs"
                 << (tf32_ ? " (TF32 tensor cores, --tf32)" : " (FP32)");
            return text.str();
        }
    return "cuda device " + std::to_string(device_);
}

void* CudaBackend::allocate_bytes(std::size_t bytes) { return kernels::device_alloc(bytes); }
void CudaBackend::free_bytes(void* pointer) noexcept {
    // Memory a queued kernel may still use: wait for the stream before handing it back.
    try {
        kernels::synchronize(stream_);
    } catch (...) {
    }
    kernels::device_free(pointer);
}
void CudaBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
    kernels::copy_to_device(device_dst, host_src, bytes, stream_);
}
void CudaBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
    kernels::copy_to_host(host_dst, device_src, bytes, stream_);
}
void CudaBackend::synchronize() { kernels::synchronize(stream_); }
void CudaBackend::fill(Tensor x, float value) { kernels::fill(x, value, stream_); }
void CudaBackend::copy_device(void* device_dst, const void* device_src, std::size_t bytes) {
    kernels::copy_device_to_device(device_dst, device_src, bytes, stream_);
}

std::unique_ptr<CapturedWork> CudaBackend::capture(const std::function<void()>& work) {
    kernels::begin_capture(stream_);
    try {
        work();
    } catch (...) {
        // The stream must leave capture mode whatever happened, and no error may stay behind
        // for the next launch to report as its own (end_capture fails on a spoiled capture).
        try {
            kernels::destroy_graph(kernels::end_capture(stream_));
        } catch (...) {
        }
        kernels::clear_last_error();
        throw;
    }
    return std::make_unique<CudaGraph>(kernels::end_capture(stream_));
}

void CudaBackend::replay(CapturedWork& work) {
    const auto* graph = dynamic_cast<const CudaGraph*>(&work);
    TWP_CHECK(graph, "cuda backend: replay of work another backend captured");
    kernels::replay(graph->get(), stream_);
}

std::unique_ptr<PcaSolver> CudaBackend::pca_solver() {
    return std::make_unique<CudaPcaSolver>(*libraries_);
}

void CudaBackend::gather_rows(Tensor src, IndexTensor rows, Tensor dst) {
    kernels::gather_rows(src, rows, dst, stream_);
}
void CudaBackend::gather_labels(IndexTensor src, IndexTensor rows, IndexTensor dst) {
    kernels::gather_labels(src, rows, dst, stream_);
}

std::int64_t CudaBackend::conv2d_workspace_floats(Shape x, Shape w, int padding) const {
    return kernels::conv2d_backward_workspace_floats(x, w, padding);
}
void CudaBackend::conv2d_forward(Tensor x, Tensor w, Tensor b, Tensor y, int padding,
                                 Activation activation, Pass, Tensor) {
    kernels::conv2d_forward(x, w, b, y, padding, activation, stream_);
}
void CudaBackend::conv2d_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db,
                                  int padding, Tensor workspace) {
    kernels::conv2d_backward(x, w, dy, dx, dw, db, padding, workspace, stream_);
}

void CudaBackend::maxpool2_forward(Tensor x, Tensor y, IndexTensor argmax) {
    kernels::maxpool2_forward(x, y, argmax, stream_);
}
void CudaBackend::maxpool2_backward(Tensor dy, IndexTensor argmax, Tensor dx) {
    kernels::maxpool2_backward(dy, argmax, dx, stream_);
}

void CudaBackend::relu_forward(Tensor x, Tensor y) { kernels::relu_forward(x, y, stream_); }
void CudaBackend::relu_backward(Tensor y, Tensor dy, Tensor dx) { kernels::relu_backward(y, dy, dx, stream_); }

// y [B, Out] = x [B, In] · w [Out, In]^T, then the bias (and ReLU) in one pass over y.
void CudaBackend::linear_forward(Tensor x, Tensor w, Tensor b, Tensor y, Activation activation) {
    checks::linear(x, w, b, y);
    const int64_t batch = x.dim(0), in = x.dim(1), out = w.dim(0);
    kernels::gemm(false, true, batch, out, in, 1.0f, x.data, in, w.data, in, 0.0f, y.data, out, *libraries_, gemm_math(tf32_));
    kernels::bias_activation(y, b, activation, stream_);
}

// dx [B, In] = dy · w; dw [Out, In] = dy^T · x; db [Out] = column sums of dy.
void CudaBackend::linear_backward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
    checks::linear_backward(x, w, dy, dx, dw, db);
    const int64_t batch = x.dim(0), in = x.dim(1), out = w.dim(0);
    if (!dx.empty()) {
        kernels::gemm(false, false, batch, in, out, 1.0f, dy.data, out, w.data, in, 0.0f, dx.data, in, *libraries_, gemm_math(tf32_));
    }
    kernels::gemm(true, false, out, in, batch, 1.0f, dy.data, out, x.data, in, 0.0f, dw.data, in, *libraries_, gemm_math(tf32_));
    kernels::bias_gradient(dy, db, stream_);
}

void CudaBackend::softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                                IndexTensor correct) {
    kernels::softmax_cross_entropy_forward(logits, labels, losses, correct, stream_);
}
void CudaBackend::softmax_cross_entropy_backward(Tensor logits, IndexTensor labels, Tensor dlogits) {
    kernels::softmax_cross_entropy_backward(logits, labels, dlogits, stream_);
}

void CudaBackend::normal_fill(Tensor x, uint64_t seed, uint64_t offset) {
    kernels::normal_fill(x, seed, offset, stream_);
}

void CudaBackend::timestep_embedding_forward(Tensor t, Tensor emb) {
    kernels::timestep_embedding_forward(t, emb, stream_);
}

void CudaBackend::timestep_embedding_backward(Tensor t, Tensor demb, Tensor dt) {
    kernels::timestep_embedding_backward(t, demb, dt, stream_);
}

void CudaBackend::row_combine_forward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor out) {
    kernels::row_combine_forward(a, x, c, y, out, stream_);
}

void CudaBackend::row_combine_backward(Tensor a, Tensor x, Tensor c, Tensor y, Tensor dout, Tensor dx, Tensor dy,
                                       Tensor da, Tensor dc) {
    kernels::row_combine_backward(a, x, c, y, dout, dx, dy, da, dc, stream_);
}

void CudaBackend::sgd_update(Tensor params, Tensor grads, Tensor momentum_buffer, const SgdConfig& config) {
    kernels::sgd_update(params, grads, momentum_buffer, config, stream_);
}

void CudaBackend::add(Tensor a, Tensor b, Tensor y) { kernels::add(a, b, y, stream_); }
void CudaBackend::add_row_broadcast(Tensor x, Tensor row, Tensor y) {
    kernels::add_row_broadcast(x, row, y, stream_);
}
void CudaBackend::scatter_rows(Tensor src, IndexTensor rows, Tensor dst) {
    kernels::scatter_rows(src, rows, dst, stream_);
}
void CudaBackend::layer_norm_forward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y,
                                     Tensor mean, Tensor rstd) {
    kernels::layer_norm_forward(x, gamma, beta, eps, y, mean, rstd, stream_);
}
void CudaBackend::layer_norm_backward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy,
                                      Tensor dx, Tensor dgamma, Tensor dbeta) {
    kernels::layer_norm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, stream_);
}
void CudaBackend::dropout_forward(Tensor x, Tensor y, DropoutSpec spec) {
    kernels::dropout_forward(x, y, spec, stream_);
}
void CudaBackend::dropout_backward(Tensor dy, Tensor dx, DropoutSpec spec) {
    kernels::dropout_backward(dy, dx, spec, stream_);
}
// One fused kernel per direction, one block per (batch item, head) (kernels/attention.cu).
void CudaBackend::attention_forward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor out) {
    kernels::attention_forward(qkv, heads, dropout, probs, out, stream_);
}
void CudaBackend::attention_backward(Tensor qkv, int heads, DropoutSpec dropout, Tensor probs, Tensor dout,
                                     Tensor dqkv) {
    kernels::attention_backward(qkv, heads, dropout, probs, dout, dqkv, stream_);
}
void CudaBackend::mse_loss_forward(Tensor pred, Tensor target, Tensor loss) {
    kernels::mse_loss_forward(pred, target, loss, stream_);
}
void CudaBackend::mse_loss_backward(Tensor pred, Tensor target, Tensor dpred) {
    kernels::mse_loss_backward(pred, target, dpred, stream_);
}
void CudaBackend::adam_update(Tensor params, Tensor grads, Tensor m, Tensor v, int64_t step,
                              const AdamConfig& config) {
    kernels::adam_update(params, grads, m, v, step, config, stream_);
}

}  // namespace twp
