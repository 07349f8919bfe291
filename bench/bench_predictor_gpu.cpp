// The weight predictor (experiment/transformer.*) on the CUDA backend, at the shapes by
// default (D = 500, 6 layers, feed-forward 2048, batch 32, window k = 3, dropout 0.1):
// - the training step as twp's predictor loop makes it (experiment/predictor.cpp: forward,
//   MSE, the loss copied to the host, backward, Adam), steps per second;
// - the same step with the loss left on the device (what the GPU alone costs), launched op by op
//   and captured once as a CUDA graph and replayed. The replayed graph repeats one step's Adam
//   step count and dropout counters, so it measures launch overhead, not a training twp runs;
// - inference (batch 32, the evaluation's forward) op by op and as a graph;
// - each kernel at the training shapes (CUDA events around back-to-back calls), with its FLOPs and
//   bytes and the share of the chip's limits, and the step against the sum of its kernels.
// Inputs are random. Prints one JSON object; bench/run_bench_predictor_gpu.sh runs it beside
// PyTorch on the same GPU.
//   usage: bench_predictor_gpu [--seconds S] [--device N] [--dim D] [--layers L] [--feedforward F]
//                              [--batch B] [--seq K] [--tf32 0|1] [--peak_tflops T]
//                              [--peak_fp64_tflops T] [--peak_tbps B]
// The peaks default to an H200 SXM: 67 TFLOP/s FP32 without tensor cores, 34 TFLOP/s FP64 without
// tensor cores (the attention kernels compute in double), 4.8 TB/s HBM3e.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda_backend.hpp"
#include "engine/random.hpp"
#include "experiment/transformer.hpp"
#include "kernels/timer.cuh"

using namespace twp;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Shapes {
    int64_t dim = 500, feedforward = 2048, batch = 32, seq = 3;
    int layers = 6;
};

// Median over 5 windows of calls per second of `call`, each window `seconds / 5` long and ending
// in a synchronize.
double calls_per_second(CudaBackend& backend, const std::function<void()>& call, double seconds) {
    for (int i = 0; i < 5; ++i) call();
    backend.synchronize();
    std::vector<double> rates;
    for (int r = 0; r < 5; ++r) {
        int64_t calls = 0;
        const auto start = std::chrono::steady_clock::now();
        while (seconds_since(start) < seconds / 5) {
            for (int i = 0; i < 10; ++i) call();
            calls += 10;
            backend.synchronize();
        }
        rates.push_back(double(calls) / seconds_since(start));
    }
    std::sort(rates.begin(), rates.end());
    return rates[2];
}

// Microseconds per call of `op`, from CUDA events around `calls` back-to-back calls.
double time_op(CudaBackend& backend, const std::function<void()>& op, int calls = 100) {
    for (int i = 0; i < 5; ++i) op();
    kernels::StreamTimer timer(backend.stream());
    timer.start();
    for (int i = 0; i < calls; ++i) op();
    timer.stop();
    return timer.milliseconds() * 1000.0 / calls;
}

struct KernelTime {
    std::string name;
    double microseconds = 0, flops = 0, bytes = 0;
    int per_step = 0;   // how often one training step runs it
    bool fp64 = false;  // computes in double: its FLOPs count against the FP64 peak
};

std::vector<float> random_floats(int64_t count, uint64_t seed, float scale) {
    Rng rng(seed, RngStream::kInit);
    std::vector<float> values(count);
    for (float& v : values) v = rng.uniform(scale);
    return values;
}

// Each op of one encoder layer at the training shapes, on buffers of its own.
std::vector<KernelTime> time_kernels(CudaBackend& be, const Shapes& s, int heads) {
    constexpr double F = sizeof(float);
    const int64_t rows = s.batch * s.seq, d = s.dim, f = s.feedforward, dh = d / heads;
    const auto buffer = [&](int64_t count, uint64_t seed) {
        Buffer<float> b(be, count);
        b.upload(random_floats(count, seed, 0.5f));
        return b;
    };
    Buffer<float> x = buffer(rows * d, 1), w_in = buffer(3 * d * d, 2), b_in = buffer(3 * d, 3), qkv = buffer(rows * 3 * d, 4),
                  probs = buffer(s.batch * heads * s.seq * s.seq, 5), attn = buffer(rows * d, 6), w_out = buffer(d * d, 7),
                  b_out = buffer(d, 8), w1 = buffer(f * d, 9), b1 = buffer(f, 10), w2 = buffer(d * f, 11), b2 = buffer(d, 12),
                  h = buffer(rows * f, 13), y = buffer(rows * d, 14), gamma = buffer(d, 15), beta = buffer(d, 16),
                  mean = buffer(rows, 17), rstd = buffer(rows, 18), dy = buffer(rows * d, 19), dx = buffer(rows * d, 20),
                  dh_ = buffer(rows * f, 21), dqkv = buffer(rows * 3 * d, 22), dw_in = buffer(3 * d * d, 23),
                  db_in = buffer(3 * d, 24), dw1 = buffer(f * d, 25), db1 = buffer(f, 26), dw2 = buffer(d * f, 27),
                  db2 = buffer(d, 28), dgamma = buffer(d, 29), dbeta = buffer(d, 30);
    const auto V = [](Buffer<float>& b, Shape shape) { return b.view(shape); };
    const Tensor X = V(x, {rows, d}), QKV = V(qkv, {s.batch, s.seq, 3 * d}), H = V(h, {rows, f}), Y = V(y, {rows, d});
    const DropoutSpec dropout{0.1f, 7, 0};
    const double attention_pairs = double(s.batch) * heads, sq = double(s.seq) * double(s.seq);
    std::vector<KernelTime> times;
    const auto add = [&](const std::string& name, int per_step, double flops, double bytes, const std::function<void()>& op) {
        times.push_back({name, time_op(be, op), flops, bytes, per_step, name.rfind("attention", 0) == 0});
    };
    const int L = s.layers;
    add("in_proj forward (gemm+bias)", L, 2.0 * rows * d * 3 * d, F * (rows * d + 3 * d * d + 3 * d + rows * 3 * d),
        [&] { be.linear_forward(X, V(w_in, {3 * d, d}), V(b_in, {3 * d}), QKV.reshaped({rows, 3 * d}), Activation::kNone); });
    add("attention forward (fused, per batch x head)", L, attention_pairs * (4.0 * sq * dh + 5.0 * sq),
        F * (rows * 3 * d + attention_pairs * sq + rows * d),
        [&] { be.attention_forward(QKV, heads, dropout, V(probs, {s.batch, heads, s.seq, s.seq}), V(attn, {s.batch, s.seq, d})); });
    add("out_proj forward (gemm+bias)", L, 2.0 * rows * d * d, F * (2 * rows * d + d * d + d),
        [&] { be.linear_forward(V(attn, {rows, d}), V(w_out, {d, d}), V(b_out, {d}), Y, Activation::kNone); });
    add("dropout forward [rows, D]", 2 * L, 2.0 * rows * d, F * 2 * rows * d, [&] { be.dropout_forward(Y, Y, dropout); });
    add("residual add", 2 * L, double(rows) * d, F * 3 * rows * d, [&] { be.add(X, Y, Y); });
    add("layer_norm forward", 2 * L, 8.0 * rows * d, F * (2 * rows * d + 2 * d + 2 * rows),
        [&] { be.layer_norm_forward(Y, V(gamma, {d}), V(beta, {d}), 1e-5f, X, V(mean, {rows}), V(rstd, {rows})); });
    add("linear1 forward (gemm+bias+relu)", L, 2.0 * rows * d * f, F * (rows * d + f * d + f + rows * f),
        [&] { be.linear_forward(X, V(w1, {f, d}), V(b1, {f}), H, Activation::kRelu); });
    add("dropout forward [rows, F]", L, 2.0 * rows * f, F * 2 * rows * f, [&] { be.dropout_forward(H, H, dropout); });
    add("linear2 forward (gemm+bias)", L, 2.0 * rows * f * d, F * (rows * f + d * f + d + rows * d),
        [&] { be.linear_forward(H, V(w2, {d, f}), V(b2, {d}), Y, Activation::kNone); });
    add("linear2 backward (2 gemms+bias grad)", L, 4.0 * rows * f * d, F * (rows * d + 2 * d * f + 2 * rows * f + d),
        [&] { be.linear_backward(H, V(w2, {d, f}), V(dy, {rows, d}), V(dh_, {rows, f}), V(dw2, {d, f}), V(db2, {d})); });
    add("relu backward [rows, F]", L, double(rows) * f, F * 3 * rows * f, [&] { be.relu_backward(H, V(dh_, {rows, f}), V(dh_, {rows, f})); });
    add("linear1 backward (2 gemms+bias grad)", L, 4.0 * rows * d * f, F * (rows * f + 2 * f * d + 2 * rows * d + f),
        [&] { be.linear_backward(X, V(w1, {f, d}), V(dh_, {rows, f}), V(dx, {rows, d}), V(dw1, {f, d}), V(db1, {f})); });
    add("layer_norm backward", 2 * L, 14.0 * rows * d, F * (3 * rows * d + d + 2 * rows + 2 * d),
        [&] {
            be.layer_norm_backward(Y, V(gamma, {d}), V(mean, {rows}), V(rstd, {rows}), V(dy, {rows, d}), V(dx, {rows, d}),
                                   V(dgamma, {d}), V(dbeta, {d}));
        });
    add("attention backward (fused, per batch x head)", L, attention_pairs * (8.0 * sq * dh + 6.0 * sq),
        F * (rows * 3 * d + attention_pairs * sq + rows * d + rows * 3 * d),
        [&] {
            be.attention_backward(QKV, heads, dropout, V(probs, {s.batch, heads, s.seq, s.seq}), V(dy, {s.batch, s.seq, d}),
                                  V(dqkv, {s.batch, s.seq, 3 * d}));
        });
    add("in_proj backward (2 gemms+bias grad)", L, 4.0 * rows * d * 3 * d, F * (rows * 3 * d + 6 * d * d + 2 * rows * d + 3 * d),
        [&] {
            be.linear_backward(X, V(w_in, {3 * d, d}), V(dqkv, {rows, 3 * d}), V(dx, {rows, d}), V(dw_in, {3 * d, d}),
                               V(db_in, {3 * d}));
        });
    be.synchronize();
    return times;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3.0, peak_tflops = 67.0, peak_fp64_tflops = 34.0, peak_tbps = 4.8;
    int device = 0;
    bool tf32 = false;
    Shapes s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const char* value = argv[i + 1];
        if (flag == "--seconds") seconds = std::atof(value);
        else if (flag == "--device") device = std::atoi(value);
        else if (flag == "--dim") s.dim = std::atoll(value);
        else if (flag == "--layers") s.layers = std::atoi(value);
        else if (flag == "--feedforward") s.feedforward = std::atoll(value);
        else if (flag == "--batch") s.batch = std::atoll(value);
        else if (flag == "--seq") s.seq = std::atoll(value);
        else if (flag == "--tf32") tf32 = std::atoi(value) != 0;
        else if (flag == "--peak_tflops") peak_tflops = std::atof(value);
        else if (flag == "--peak_fp64_tflops") peak_fp64_tflops = std::atof(value);
        else if (flag == "--peak_tbps") peak_tbps = std::atof(value);
        else {
            std::fprintf(stderr, "bench_predictor_gpu: unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    try {
        CudaBackend backend(device, tf32);
        TransformerConfig config;
        config.dim = s.dim;
        config.heads = reference_heads(s.dim);
        config.layers = s.layers;
        config.feedforward = s.feedforward;
        config.dropout = 0.1f;
        config.sequence_length = s.seq;
        TransformerPredictor model(backend, config, s.batch);
        model.initialize(0);
        const int64_t count = model.layout().total(), b = s.batch, d = s.dim;
        Buffer<float> m(backend, count), v(backend, count), inputs(backend, b * s.seq * d), targets(backend, b * d),
            dpred(backend, b * d), loss(backend, 1);
        backend.fill(m.view(), 0.0f);
        backend.fill(v.view(), 0.0f);
        inputs.upload(random_floats(b * s.seq * d, 101, 1.0f));
        targets.upload(random_floats(b * d, 102, 1.0f));
        const AdamConfig adam{1e-4f, 0.9f, 0.999f, 1e-8f};
        int64_t step = 0;
        uint64_t dropout_offset = 0;
        const Tensor in = inputs.view({b, s.seq, d}), target = targets.view({b, d});
        // One step on the device: forward, MSE and its gradient, backward, Adam.
        const auto device_step = [&](int64_t adam_step, uint64_t offset) {
            const Tensor pred = model.forward(in, Pass::kTraining, 0, offset);
            backend.mse_loss_forward(pred, target, loss.view({1}));
            backend.mse_loss_backward(pred, target, dpred.view({b, d}));
            model.backward(dpred.view({b, d}));
            backend.adam_update(model.parameters().view(), model.gradients().view(), m.view(), v.view(), adam_step, adam);
        };
        // As experiment/predictor.cpp: the loss comes to the host every step.
        const double loop_steps = calls_per_second(backend, [&] {
            device_step(++step, dropout_offset);
            dropout_offset += model.dropout_counters(b);
            float value = 0;
            loss.download(&value, 1);
        }, seconds);
        const double device_steps = calls_per_second(backend, [&] {
            device_step(++step, dropout_offset);
            dropout_offset += model.dropout_counters(b);
        }, seconds);
        const std::unique_ptr<CapturedWork> step_graph = backend.capture([&] { device_step(step + 1, dropout_offset); });
        const double graph_steps = calls_per_second(backend, [&] { backend.replay(*step_graph); }, seconds);
        const auto infer = [&] { model.forward(in, Pass::kInference); };
        const double inference = calls_per_second(backend, infer, seconds);
        const std::unique_ptr<CapturedWork> inference_graph = backend.capture(infer);
        const double inference_graph_rate = calls_per_second(backend, [&] { backend.replay(*inference_graph); }, seconds);

        std::printf("{\"backend\": \"%s\", \"dim\": %lld, \"heads\": %d, \"layers\": %d, \"feedforward\": %lld, "
                    "\"batch\": %lld, \"seq\": %lld, \"parameters\": %lld, \"tf32\": %s, \"peak_fp32_tflops\": %g, "
                    "\"peak_fp64_tflops\": %g, \"peak_memory_tbps\": %g,\n \"train_step_ms_twp_loop\": %.4f, \"train_step_ms_device\": %.4f, "
                    "\"train_step_ms_graph\": %.4f, \"inference_ms\": %.4f, \"inference_ms_graph\": %.4f",
                    backend.description().c_str(), static_cast<long long>(d), config.heads, s.layers,
                    static_cast<long long>(s.feedforward), static_cast<long long>(b), static_cast<long long>(s.seq),
                    static_cast<long long>(count), tf32 ? "true" : "false", peak_tflops, peak_fp64_tflops, peak_tbps, 1e3 / loop_steps,
                    1e3 / device_steps, 1e3 / graph_steps, 1e3 / inference, 1e3 / inference_graph_rate);

        std::vector<KernelTime> times = time_kernels(backend, s, config.heads);
        const double adam_us = time_op(backend, [&] {
            backend.adam_update(model.parameters().view(), model.gradients().view(), m.view(), v.view(), 1, adam);
        });
        times.push_back({"adam_update (all parameters)", adam_us, 12.0 * double(count), 7.0 * sizeof(float) * double(count), 1});
        double kernel_sum = 0;
        std::printf(",\n \"kernels\": [");
        for (size_t i = 0; i < times.size(); ++i) {
            const KernelTime& t = times[i];
            kernel_sum += t.microseconds * t.per_step;
            const double gflops = t.flops / t.microseconds / 1e3, gbps = t.bytes / t.microseconds / 1e3;
            std::printf("%s\n  {\"op\": \"%s\", \"per_step\": %d, \"us\": %.2f, \"gflop_per_s\": %.1f, \"gb_per_s\": %.1f, "
                        "\"percent_of_%s_peak\": %.3f, \"percent_of_memory_peak\": %.3f}",
                        i ? "," : "", t.name.c_str(), t.per_step, t.microseconds, gflops, gbps, t.fp64 ? "fp64" : "fp32",
                        gflops / ((t.fp64 ? peak_fp64_tflops : peak_tflops) * 1e3) * 100, gbps / (peak_tbps * 1e3) * 100);
        }
        // The listed ops cover the layers and Adam; the positional encoding, the last-row gather and
        // the output projection are left out, so the sum is a slight underestimate of the step.
        std::printf("],\n \"sum_of_kernel_us_per_step\": %.1f, \"graph_step_over_kernel_sum\": %.2f}\n", kernel_sum,
                    1e6 / graph_steps / kernel_sum);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_predictor_gpu: %s\n", e.what());
        return 1;
    }
}
