// The per-weight MLP forecaster (experiment/per_weight_forecaster.*) on the CUDA backend against
// the same forecaster on the CPU backend, on one set of synthetic decaying trajectories
// (tests/synthetic_weights.hpp) with the same seed: untrained both predict the last value exactly;
// fitted, they choose the same step and predict the same next weights. Built twice like
// tests/test_cuda_backend.cpp: over the emulated kernels (twp_per_weight_cuda_tests, every CI run)
// and natively (twp_per_weight_cuda_tests_gpu, label gpu, skipped without a GPU).
//
// What may drift: the GEMMs and the bias gradients sum in another order than the CPU's, and Adam
// carries the roundings along its steps; the predicted steps (next - last) are bounded at a
// relative 1e-3 of their largest (measured under the emulation: 0, its GEMMs being the CPU BLAS
// and its bias sums the CPU's order here), the validation MSEs at a relative 1e-3.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/cuda_backend.hpp"
#include "experiment/config.hpp"
#include "experiment/per_weight_forecaster.hpp"
#include "tests/check.hpp"
#include "tests/synthetic_weights.hpp"

namespace twp {
namespace {

constexpr int64_t kWindow = 3;

struct Fitted {
    std::vector<float> untrained, next;  // [test windows, dim]
    std::vector<ForecasterFact> facts;
};

Fitted fit_on(Backend& backend, const PredictorData& data, const std::vector<History>& histories) {
    Config config;
    PerWeightOptions options;
    options.hidden = 8;
    options.batch_size = 256;
    options.steps = 60;
    options.validate_every = 30;
    options.inference_rows = 64;  // not a multiple of the 50 weights
    std::unique_ptr<Forecaster> f = make_per_weight_forecaster(ForecasterContext{backend, config, data, nullptr, {}, false},
                                                               ParamLayout{{"a", {30}}, {"b", {20}}}, options);
    Fitted result;
    result.untrained = f->predict(histories, data.space.raw_dim);
    f->fit(data);
    result.next = f->predict(histories, data.space.raw_dim);
    result.facts = f->facts();
    return result;
}

std::string fact(const Fitted& f, const std::string& key) {
    for (const ForecasterFact& fact : f.facts)
        if (fact.key == key) return fact.value;
    FAIL("no fact " << key);
    return {};
}

TEST_CASE("the per-weight MLP fits and predicts on the CUDA backend as on the CPU backend", "[per_weight][cuda_backend]") {
    CpuBackend cpu(2);
    CudaBackend cuda(0);
    // 2 runs of 12 snapshots split at 8: 3 train, 2 validation and 1 test window per run.
    const PredictorData data =
        test::raw_data(cpu, test::decaying_runs(2, 12, 8, {30, 20}, {1e-2f, 1e-4f}, 0.7f, 9), kWindow, 0.25);
    const int64_t dim = data.space.raw_dim;
    std::vector<History> histories;
    std::vector<float> last;
    for (const Window& w : data.test_windows) {
        const float* run = data.runs.runs[w.run_index].vectors.data();
        histories.push_back({run, w.first + kWindow});
        last.insert(last.end(), run + (w.first + kWindow - 1) * dim, run + (w.first + kWindow) * dim);
    }
    REQUIRE(histories.size() == 2);
    const Fitted on_cpu = fit_on(cpu, data, histories);
    const Fitted on_cuda = fit_on(cuda, data, histories);
    CHECK(on_cpu.untrained == last);
    CHECK(on_cuda.untrained == last);

    CHECK(fact(on_cuda, "best_step") == fact(on_cpu, "best_step"));
    CHECK(fact(on_cpu, "best_step") != "0");  // the comparison is of trained models
    const double cpu_mse = std::stod(fact(on_cpu, "validation_weight_mse"));
    const double cuda_mse = std::stod(fact(on_cuda, "validation_weight_mse"));
    CHECK(std::abs(cuda_mse - cpu_mse) <= 1e-3 * cpu_mse);
    std::vector<float> cpu_steps(last.size()), cuda_steps(last.size());
    for (size_t i = 0; i < last.size(); ++i) {
        cpu_steps[i] = on_cpu.next[i] - last[i];
        cuda_steps[i] = on_cuda.next[i] - last[i];
    }
    const double difference = test::relative_difference(cuda_steps, cpu_steps);
    INFO("predicted steps: CUDA against CPU, relative " << difference);
    CHECK(difference < 1e-3);
}

}  // namespace
}  // namespace twp
