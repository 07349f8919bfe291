// LeNet-5 throughput on the CPU backend: training (gather, forward, loss, backward, SGD update) in
// images/s at batch 32 and 64, and test-set inference (10,000 images in batches of 1000). Inputs
// are random, shaped like MNIST: the speed does not depend on pixel values. Warm-up, then the
// median of several timed repeats. Each figure is also given as a fraction of this machine's
// limit: the SGEMM rate measured here (bench/machine_limits.hpp) divided by LeNet-5's FLOPs per image (forward 0.83 MFLOP; training 2.26 MFLOP:
// forward, then conv1's weight gradient, conv2's weight and input gradients and the fc layers'
// two products each). Prints one JSON object; bench/run_bench_lenet5.sh runs it next to the
// PyTorch peer and prints the ratio.
//
// usage: bench_lenet5 [--seconds S] [--threads N] [--batches 32,64] [--no-inference]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "bench/machine_limits.hpp"
#include "engine/cpu_backend.hpp"
#include "bench/random_images.hpp"
#include "engine/random.hpp"
#include "experiment/base_training.hpp"

using namespace twp;

namespace {

// Median over `repeats` windows of items/s, each window calling step() for seconds/repeats.
double median_rate(const std::function<void()>& step, double items_per_call, double seconds,
                   int repeats = 5) {
    for (int i = 0; i < 20; ++i) step();
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
        int64_t calls = 0;
        const auto start = std::chrono::steady_clock::now();
        double elapsed = 0;
        while (elapsed < seconds / repeats) {
            step();
            ++calls;
            elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        rates.push_back(double(calls) * items_per_call / elapsed);
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

// LeNet-5's multiply-adds x 2 per image, from its layer shapes.
constexpr double kConv1 = 2.0 * 6 * 25 * 28 * 28, kConv2 = 2.0 * 16 * 150 * 10 * 10;
constexpr double kFc = 2.0 * (400 * 120 + 120 * 84 + 84 * 10);
constexpr double kForwardFlops = kConv1 + kConv2 + kFc;
constexpr double kTrainingFlops = kForwardFlops + kConv1 + 2 * kConv2 + 2 * kFc;

}  // namespace

int main(int argc, char** argv) {
    double seconds = 5.0;
    int threads = 0;
    std::vector<int64_t> batches = {32, 64};
    bool inference_too = true;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const bool has_value = i + 1 < argc;
        if (flag == "--no-inference") inference_too = false;
        else if (flag == "--seconds" && has_value) seconds = std::atof(argv[++i]);
        else if (flag == "--threads" && has_value) threads = std::atoi(argv[++i]);
        else if (flag == "--batches" && has_value) {
            batches.clear();
            for (const char* p = argv[++i]; *p;) {
                char* end = nullptr;
                batches.push_back(std::strtoll(p, &end, 10));
                if (end == p || batches.back() <= 0) {
                    std::fprintf(stderr, "bench_lenet5: --batches wants positive numbers like 32,64\n");
                    return 2;
                }
                p = *end == ',' ? end + 1 : end;
            }
        } else {
            std::fprintf(stderr, "usage: bench_lenet5 [--seconds S] [--threads N] [--batches 32,64] [--no-inference]\n");
            return 2;
        }
    }
    try {
        CpuBackend backend(threads);
        const int64_t n_train = 60000;
        const DeviceImageSet train(backend, bench::random_images(n_train, 1));
        const DeviceImageSet test(backend, bench::random_images(10000, 2));
        SgdConfig sgd;

        const double gflops = bench::sgemm_gflop_per_s(backend.max_threads());
        std::printf("{\"backend\": \"cpu\", \"description\": \"%s\", \"sgemm_gflop_per_s\": %.1f, "
                    "\"ceiling_train_images_per_s\": %.0f, \"ceiling_inference_images_per_s\": %.0f",
                    backend.description().c_str(), gflops, gflops * 1e9 / kTrainingFlops, gflops * 1e9 / kForwardFlops);
        for (int64_t batch : batches) {
            LeNet5 model(backend, batch);
            model.initialize(0);
            Buffer<float> momentum(backend, LeNet5::kParameterCount);
            backend.fill(momentum.view(), 0.0f);
            Buffer<float> images(backend, batch * 28 * 28), losses(backend, batch);
            Buffer<int32_t> labels(backend, batch), correct(backend, batch), order(backend, n_train);
            std::vector<int32_t> host_order(n_train);
            std::iota(host_order.begin(), host_order.end(), 0);
            order.upload(host_order);
            int64_t position = 0;
            const auto step = [&] {
                if (position + batch > n_train) position = 0;
                const IndexTensor rows{order.data() + position, {batch}};
                position += batch;
                const Tensor x = images.view({batch, 1, 28, 28});
                backend.gather_rows(train.image_view(), rows, x);
                backend.gather_labels(train.labels.view(), rows, labels.view());
                model.forward(x);
                model.loss(labels.view(), losses.view(), correct.view());
                model.backward(x, labels.view());
                backend.sgd_update(model.parameters().view(), model.gradients().view(),
                                   momentum.view(), sgd);
            };
            const double rate = median_rate(step, double(batch), seconds);
            std::printf(", \"train_images_per_s_batch%lld\": %.1f, \"train_fraction_of_ceiling_batch%lld\": %.3f",
                        (long long)batch, rate, (long long)batch, rate * kTrainingFlops / (gflops * 1e9));
            std::fflush(stdout);
        }
        if (inference_too) {
            LeNet5 model(backend, 1000);
            model.initialize(0);
            const double inference =
                median_rate([&] { evaluate(backend, model, test, 1000); }, 10000.0, seconds);
            std::printf(", \"inference_images_per_s_batch1000\": %.1f, \"inference_fraction_of_ceiling\": %.3f", inference,
                        inference * kForwardFlops / (gflops * 1e9));
        }
        std::printf("}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lenet5: %s\n", e.what());
        return 1;
    }
    return 0;
}
