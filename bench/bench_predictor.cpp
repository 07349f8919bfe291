// One training step of the transformer predictor on the CPU backend (forward, MSE, backward,
// Adam) at the reference's default shape: d = 500 (PCA components), 6 layers, 5 heads, feed-forward
// 2048, batch 32, sequence 3, dropout 0.1. Warm-up, then the median of repeats; prints JSON.
// bench/run_bench_predictor.sh runs it beside the PyTorch peer and prints the ratio.
//
// usage: bench_predictor [--dim D] [--batch B] [--seq S] [--repeats N] [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/machine_limits.hpp"
#include "engine/buffer.hpp"
#include "engine/cpu_backend.hpp"
#include "experiment/transformer.hpp"
#include "tests/check.hpp"

using namespace twp;

int main(int argc, char** argv) {
    int64_t dim = 500, batch = 32, seq = 3;
    int repeats = 30, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const long long value = std::atoll(argv[i + 1]);
        if (flag == "--dim") dim = value;
        else if (flag == "--batch") batch = value;
        else if (flag == "--seq") seq = value;
        else if (flag == "--repeats") repeats = int(value);
        else if (flag == "--threads") threads = int(value);
    }
    try {
        CpuBackend backend(threads);
        TransformerConfig config;
        config.dim = dim;
        config.heads = reference_heads(dim);
        config.sequence_length = seq;
        TransformerPredictor model(backend, config, batch);
        model.initialize(1);
        const int64_t count = model.layout().total();
        Buffer<float> m(backend, count), v(backend, count), inputs(backend, batch * seq * dim),
            targets(backend, batch * dim), dpred(backend, batch * dim), loss(backend, 1);
        backend.fill(m.view(), 0.0f);
        backend.fill(v.view(), 0.0f);
        inputs.upload(test::random_vector<float>(batch * seq * dim, 2));
        targets.upload(test::random_vector<float>(batch * dim, 3));
        int64_t step = 0;
        uint64_t counter = 0;
        const auto train_step = [&] {
            const Tensor pred = model.forward(inputs.view({batch, seq, dim}), Pass::kTraining, 1, counter);
            counter += model.dropout_counters(batch);
            backend.mse_loss_forward(pred, targets.view({batch, dim}), loss.view({1}));
            float value = 0;
            loss.download(&value, 1);
            backend.mse_loss_backward(pred, targets.view({batch, dim}), dpred.view({batch, dim}));
            model.backward(dpred.view({batch, dim}));
            backend.adam_update(model.parameters().view(), model.gradients().view(), m.view(), v.view(), ++step,
                                AdamConfig{});
        };
        for (int i = 0; i < 3; ++i) train_step();
        std::vector<double> ms;
        for (int i = 0; i < repeats; ++i) {
            const auto start = std::chrono::steady_clock::now();
            train_step();
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        std::sort(ms.begin(), ms.end());
        // The step's floor: every weight takes part in 3 GEMMs (forward, input and weight
        // gradients) of B*S rows, 2 FLOPs per multiply-add, at this machine's SGEMM rate; plus
        // Adam's pass over the parameters at its streaming bandwidth (bench/machine_limits.hpp).
        const double gemm_flops = 6.0 * double(batch * seq) * double(count);
        const double gflops = bench::sgemm_gflop_per_s(backend.max_threads());
        const double gb_per_s = bench::optimizer_stream_gb_per_s(count, backend.max_threads());
        const double floor_ms = gemm_flops / (gflops * 1e9) * 1e3 + 28.0 * double(count) / (gb_per_s * 1e9) * 1e3;
        const double median = ms[ms.size() / 2];
        std::printf("{\"backend\": \"cpu\", \"dim\": %lld, \"heads\": %d, \"batch\": %lld, \"seq\": %lld, "
                    "\"parameters\": %lld, \"train_step_ms_median\": %.2f, \"train_step_ms_min\": %.2f, "
                    "\"gemm_gflop_per_step\": %.2f, \"sgemm_gflop_per_s\": %.1f, \"adam_stream_gb_per_s\": %.1f, "
                    "\"floor_ms\": %.1f, \"median_over_floor\": %.2f}\n",
                    (long long)dim, config.heads, (long long)batch, (long long)seq, (long long)count, median, ms.front(),
                    gemm_flops / 1e9, gflops, gb_per_s, floor_ms, median / floor_ms);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_predictor: %s\n", e.what());
        return 1;
    }
    return 0;
}
