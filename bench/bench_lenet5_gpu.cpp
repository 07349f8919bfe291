// LeNet-5 on the CUDA backend: training throughput (images/s) at batch 32 and 64, the step
// captured as a CUDA graph and replayed, and the same step launched op by op; then the time of
// every kernel (CUDA events around many back-to-back launches of one op at the batch-32 shapes),
// its FLOPs and bytes, and how far it is from the chip's limits; and the graph step against the
// sum of its kernels' own times (what launch overhead is left). The training loop is the one
// base training runs (experiment/base_training.cpp): rows copied in from the epoch's order on
// the device, the step, losses copied out. Inputs are random, shaped like MNIST.
//
// Prints one JSON object. bench/run_bench_lenet5_gpu.sh runs it beside PyTorch on the same GPU.
//   usage: bench_lenet5_gpu [--seconds S] [--device N] [--peak_tflops T] [--peak_tbps B]
// The peaks default to an H100/H200 SXM: 67 TFLOP/s FP32 (no tensor cores: twp's kernels and its
// FP32 cuBLAS GEMMs use none) and 4.8 TB/s (H200's HBM3e; H100's is 3.35).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda_backend.hpp"
#include "bench/random_images.hpp"
#include "engine/random.hpp"
#include "experiment/base_training.hpp"
#include "experiment/lenet5.hpp"
#include "kernels/timer.cuh"

using namespace twp;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The training loop of base training on one backend and batch size.
struct TrainingLoop {
    CudaBackend& backend;
    const DeviceImageSet& train;
    int64_t batch;
    LeNet5 model;
    Buffer<float> momentum, images, step_losses, epoch_losses;
    Buffer<int32_t> labels, step_rows, step_correct, epoch_correct, order;
    std::unique_ptr<CapturedWork> graph;
    int64_t position = 0;

    TrainingLoop(CudaBackend& b, const DeviceImageSet& set, int64_t batch_size)
        : backend(b), train(set), batch(batch_size), model(b, batch_size), momentum(b, LeNet5::kParameterCount),
          images(b, batch_size * 28 * 28), step_losses(b, batch_size), epoch_losses(b, set.count),
          labels(b, batch_size), step_rows(b, batch_size), step_correct(b, batch_size), epoch_correct(b, set.count),
          order(b, set.count) {
        model.initialize(0);
        backend.fill(momentum.view(), 0.0f);
        std::vector<int32_t> host(set.count);
        Rng rng(1, RngStream::kShuffle);
        for (int64_t i = 0; i < set.count; ++i) host[i] = int32_t(i);
        for (int64_t i = set.count - 1; i > 0; --i) std::swap(host[i], host[rng.below(uint32_t(i + 1))]);
        order.upload(host);
    }
    void ops() {
        const Tensor x = images.view({batch, 1, 28, 28});
        backend.gather_rows(train.image_view(), step_rows.view({batch}), x);
        backend.gather_labels(train.labels.view(), step_rows.view({batch}), labels.view({batch}));
        model.forward(x);
        model.loss(labels.view({batch}), step_losses.view({batch}), step_correct.view({batch}));
        model.backward(x, labels.view({batch}));
        backend.sgd_update(model.parameters().view(), model.gradients().view(), momentum.view(), SgdConfig{});
    }
    void step(bool use_graph) {
        if (position + batch > train.count) position = 0;
        backend.copy_device(step_rows.data(), order.data() + position, sizeof(int32_t) * batch);
        if (use_graph) {
            if (!graph) graph = backend.capture([this] { ops(); });
            backend.replay(*graph);
        } else {
            ops();
        }
        backend.copy_device(epoch_losses.data() + position, step_losses.data(), sizeof(float) * batch);
        backend.copy_device(epoch_correct.data() + position, step_correct.data(), sizeof(int32_t) * batch);
        position += batch;
    }
};

// Median over 5 windows of images/s, each window `seconds / 5` of steps ending in a synchronize.
double images_per_second(TrainingLoop& loop, bool use_graph, double seconds) {
    for (int i = 0; i < 50; ++i) loop.step(use_graph);
    loop.backend.synchronize();
    std::vector<double> rates;
    for (int r = 0; r < 5; ++r) {
        int64_t steps = 0;
        const auto start = std::chrono::steady_clock::now();
        while (seconds_since(start) < seconds / 5) {
            for (int i = 0; i < 100; ++i) loop.step(use_graph);
            steps += 100;
            loop.backend.synchronize();
        }
        rates.push_back(double(steps * loop.batch) / seconds_since(start));
    }
    std::sort(rates.begin(), rates.end());
    return rates[2];
}

struct KernelTime {
    std::string name;
    double microseconds = 0, flops = 0, bytes = 0;
};

// Microseconds per call of `op`, from CUDA events around `calls` back-to-back calls.
double time_op(CudaBackend& backend, const std::function<void()>& op, int calls = 200) {
    for (int i = 0; i < 10; ++i) op();
    kernels::StreamTimer timer(backend.stream());
    timer.start();
    for (int i = 0; i < calls; ++i) op();
    timer.stop();
    return timer.milliseconds() * 1000.0 / calls;
}

std::vector<KernelTime> time_kernels(CudaBackend& be, const DeviceImageSet& train, int64_t b) {
    constexpr double F = sizeof(float);
    LeNet5 model(be, b);
    model.initialize(0);
    const ParamLayout& layout = LeNet5::layout();
    Buffer<float> grads(be, LeNet5::kParameterCount), momentum(be, LeNet5::kParameterCount);
    be.fill(grads.view(), 1e-3f);
    be.fill(momentum.view(), 0.0f);
    const auto param = [&](const char* name) { return layout.view(model.parameters().data(), name); };
    const auto grad = [&](const char* name) { return layout.view(grads.data(), name); };
    Buffer<int32_t> rows(be, b), labels(be, b), correct(be, b), argmax1(be, b * 6 * 14 * 14),
        argmax2(be, b * 16 * 5 * 5);
    std::vector<int32_t> host_rows(b);
    for (int64_t i = 0; i < b; ++i) host_rows[i] = int32_t(i * 13 % train.count);
    rows.upload(host_rows);
    Buffer<float> x(be, b * 784), c1(be, b * 6 * 784), p1(be, b * 6 * 196), c2(be, b * 16 * 100),
        p2(be, b * 400), f1(be, b * 120), f2(be, b * 84), out(be, b * 10), losses(be, b);
    Buffer<float> dc1(be, b * 6 * 784), dp1(be, b * 6 * 196), dc2(be, b * 16 * 100), dp2(be, b * 400),
        df1(be, b * 120), df2(be, b * 84), dout(be, b * 10);
    const Shape xs{b, 1, 28, 28}, w1{6, 1, 5, 5}, p1s{b, 6, 14, 14}, w2{16, 6, 5, 5};
    Buffer<float> ws1(be, std::max<int64_t>(1, be.conv2d_workspace_floats(xs, w1, 2)));
    Buffer<float> ws2(be, std::max<int64_t>(1, be.conv2d_workspace_floats(p1s, w2, 0)));
    const Tensor X = x.view(xs), C1 = c1.view({b, 6, 28, 28}), P1 = p1.view(p1s), C2 = c2.view({b, 16, 10, 10}),
                 P2 = p2.view({b, 16, 5, 5}), F1 = f1.view({b, 120}), F2 = f2.view({b, 84}), OUT = out.view({b, 10});
    const Tensor DC1 = dc1.view({b, 6, 28, 28}), DP1 = dp1.view(p1s), DC2 = dc2.view({b, 16, 10, 10}),
                 DP2 = dp2.view({b, 16, 5, 5}), DF1 = df1.view({b, 120}), DF2 = df2.view({b, 84}),
                 DOUT = dout.view({b, 10});
    const auto relu = Activation::kRelu;
    // Run the network once so every input holds what training would put there.
    be.gather_rows(train.image_view(), rows.view({b}), X);
    be.gather_labels(train.labels.view(), rows.view({b}), labels.view({b}));
    be.conv2d_forward(X, param("conv1.weight"), param("conv1.bias"), C1, 2, relu, Pass::kTraining, ws1.view());
    be.maxpool2_forward(C1, P1, argmax1.view(P1.shape));
    be.conv2d_forward(P1, param("conv2.weight"), param("conv2.bias"), C2, 0, relu, Pass::kTraining, ws2.view());
    be.maxpool2_forward(C2, P2, argmax2.view(P2.shape));
    be.linear_forward(P2.reshaped({b, 400}), param("fc1.weight"), param("fc1.bias"), F1, relu);
    be.linear_forward(F1, param("fc2.weight"), param("fc2.bias"), F2, relu);
    be.linear_forward(F2, param("fc3.weight"), param("fc3.bias"), OUT, Activation::kNone);
    be.softmax_cross_entropy_backward(OUT, labels.view({b}), DOUT);
    be.fill(DF2, 1e-3f);
    be.fill(DF1, 1e-3f);
    be.fill(DP2, 1e-3f);
    be.fill(DC2, 1e-3f);
    be.fill(DP1, 1e-3f);
    be.fill(DC1, 1e-3f);

    const double conv1_macs = double(b) * 6 * 784 * 25, conv2_macs = double(b) * 16 * 100 * 150;
    std::vector<KernelTime> times;
    const auto add = [&](const std::string& name, double flops, double bytes, const std::function<void()>& op) {
        times.push_back({name, time_op(be, op), flops, bytes});
    };
    add("gather_rows+labels", 0, F * b * (784 * 2 + 3),
        [&] {
            be.gather_rows(train.image_view(), rows.view({b}), X);
            be.gather_labels(train.labels.view(), rows.view({b}), labels.view({b}));
        });
    add("conv1_forward+bias+relu", 2 * conv1_macs, F * (b * 784 + 156 + b * 6 * 784),
        [&] { be.conv2d_forward(X, param("conv1.weight"), param("conv1.bias"), C1, 2, relu, Pass::kTraining, ws1.view()); });
    add("pool1_forward", double(b) * 6 * 196 * 3, F * b * 6 * (784 + 196 * 2),
        [&] { be.maxpool2_forward(C1, P1, argmax1.view(P1.shape)); });
    add("conv2_forward+bias+relu", 2 * conv2_macs, F * (b * 6 * 196 + 2416 + b * 1600),
        [&] { be.conv2d_forward(P1, param("conv2.weight"), param("conv2.bias"), C2, 0, relu, Pass::kTraining, ws2.view()); });
    add("pool2_forward", double(b) * 16 * 25 * 3, F * b * 16 * (100 + 25 * 2),
        [&] { be.maxpool2_forward(C2, P2, argmax2.view(P2.shape)); });
    add("fc1_forward (gemm+bias+relu)", 2.0 * b * 400 * 120, F * (b * 400 + 48120 + 2 * b * 120),
        [&] { be.linear_forward(P2.reshaped({b, 400}), param("fc1.weight"), param("fc1.bias"), F1, relu); });
    add("fc2_forward (gemm+bias+relu)", 2.0 * b * 120 * 84, F * (b * 120 + 10164 + 2 * b * 84),
        [&] { be.linear_forward(F1, param("fc2.weight"), param("fc2.bias"), F2, relu); });
    add("fc3_forward (gemm+bias)", 2.0 * b * 84 * 10, F * (b * 84 + 850 + 2 * b * 10),
        [&] { be.linear_forward(F2, param("fc3.weight"), param("fc3.bias"), OUT, Activation::kNone); });
    add("softmax_cross_entropy_forward", 5.0 * b * 10, F * (b * 10 + 3 * b),
        [&] { be.softmax_cross_entropy_forward(OUT, labels.view({b}), losses.view({b}), correct.view({b})); });
    add("softmax_cross_entropy_backward", 5.0 * b * 10, F * (2 * b * 10 + b),
        [&] { be.softmax_cross_entropy_backward(OUT, labels.view({b}), DOUT); });
    add("fc3_backward (2 gemms+bias grad)", 4.0 * b * 84 * 10, F * (b * 10 + 850 + 2 * b * 84 + 850),
        [&] { be.linear_backward(F2, param("fc3.weight"), DOUT, DF2, grad("fc3.weight"), grad("fc3.bias")); });
    add("relu_backward fc2", double(b) * 84, F * 3 * b * 84, [&] { be.relu_backward(F2, DF2, DF2); });
    add("fc2_backward (2 gemms+bias grad)", 4.0 * b * 120 * 84, F * (b * 84 + 10164 + 2 * b * 120 + 10164),
        [&] { be.linear_backward(F1, param("fc2.weight"), DF2, DF1, grad("fc2.weight"), grad("fc2.bias")); });
    add("relu_backward fc1", double(b) * 120, F * 3 * b * 120, [&] { be.relu_backward(F1, DF1, DF1); });
    add("fc1_backward (2 gemms+bias grad)", 4.0 * b * 400 * 120, F * (b * 120 + 48120 + 2 * b * 400 + 48120),
        [&] {
            be.linear_backward(P2.reshaped({b, 400}), param("fc1.weight"), DF1, DP2.reshaped({b, 400}),
                               grad("fc1.weight"), grad("fc1.bias"));
        });
    add("pool2_backward", 0, F * b * 16 * (25 * 2 + 100), [&] { be.maxpool2_backward(DP2, argmax2.view(P2.shape), DC2); });
    add("relu_backward conv2", double(b) * 1600, F * 3 * b * 1600, [&] { be.relu_backward(C2, DC2, DC2); });
    add("conv2_backward (data+weights+bias)", 4 * conv2_macs, F * (b * 1176 * 2 + 2416 * 2 + b * 1600),
        [&] { be.conv2d_backward(P1, param("conv2.weight"), DC2, DP1, grad("conv2.weight"), grad("conv2.bias"), 0, ws2.view()); });
    add("pool1_backward", 0, F * b * 6 * (196 * 2 + 784), [&] { be.maxpool2_backward(DP1, argmax1.view(P1.shape), DC1); });
    add("relu_backward conv1", double(b) * 4704, F * 3 * b * 4704, [&] { be.relu_backward(C1, DC1, DC1); });
    add("conv1_backward (weights+bias)", 2 * conv1_macs, F * (b * 784 + b * 4704 + 156),
        [&] { be.conv2d_backward(X, param("conv1.weight"), DC1, Tensor{}, grad("conv1.weight"), grad("conv1.bias"), 2, ws1.view()); });
    add("sgd_update", 6.0 * LeNet5::kParameterCount, F * 5 * LeNet5::kParameterCount,
        [&] { be.sgd_update(model.parameters().view(), grads.view(), momentum.view(), SgdConfig{}); });
    be.synchronize();
    return times;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3.0, peak_tflops = 67.0, peak_tbps = 4.8;
    int device = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
        else if (flag == "--device") device = std::atoi(argv[i + 1]);
        else if (flag == "--peak_tflops") peak_tflops = std::atof(argv[i + 1]);
        else if (flag == "--peak_tbps") peak_tbps = std::atof(argv[i + 1]);
        else {
            std::fprintf(stderr, "bench_lenet5_gpu: unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    try {
        CudaBackend backend(device);
        const DeviceImageSet train(backend, bench::random_images(60000, 1));
        std::printf("{\"backend\": \"%s\", \"peak_fp32_tflops\": %g, \"peak_memory_tbps\": %g", backend.description().c_str(),
                    peak_tflops, peak_tbps);
        double graph_step_us_batch32 = 0;
        for (const int64_t batch : {32, 64}) {
            TrainingLoop loop(backend, train, batch);
            const double with_graph = images_per_second(loop, true, seconds);
            const double without_graph = images_per_second(loop, false, seconds);
            if (batch == 32) graph_step_us_batch32 = 1e6 * double(batch) / with_graph;
            std::printf(", \"train_images_per_s_batch%lld\": %.0f, \"train_images_per_s_batch%lld_no_graph\": %.0f, "
                        "\"graph_speedup_batch%lld\": %.2f",
                        static_cast<long long>(batch), with_graph, static_cast<long long>(batch), without_graph,
                        static_cast<long long>(batch), with_graph / without_graph);
        }
        const std::vector<KernelTime> times = time_kernels(backend, train, 32);
        double kernel_sum = 0;
        std::printf(", \"kernels_batch32\": [");
        for (size_t i = 0; i < times.size(); ++i) {
            const KernelTime& t = times[i];
            kernel_sum += t.microseconds;
            const double gflops = t.flops / t.microseconds / 1e3, gbps = t.bytes / t.microseconds / 1e3;
            std::printf("%s\n  {\"op\": \"%s\", \"us\": %.2f, \"gflop_per_s\": %.1f, \"gb_per_s\": %.1f, "
                        "\"percent_of_fp32_peak\": %.3f, \"percent_of_memory_peak\": %.3f}",
                        i ? "," : "", t.name.c_str(), t.microseconds, gflops, gbps, gflops / (peak_tflops * 1e3) * 100,
                        gbps / (peak_tbps * 1e3) * 100);
        }
        std::printf("],\n \"sum_of_kernel_us_batch32\": %.1f, \"graph_step_us_batch32\": %.1f, "
                    "\"graph_step_over_kernel_sum\": %.2f}\n",
                    kernel_sum, graph_step_us_batch32, graph_step_us_batch32 / kernel_sum);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lenet5_gpu: %s\n", e.what());
        return 1;
    }
}
