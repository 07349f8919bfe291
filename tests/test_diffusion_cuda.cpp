// The diffusion forecaster (experiment/diffusion_forecaster.*) on the CUDA backend against the same
// forecaster on the CPU backend, on synthetic decaying trajectories (tests/synthetic_weights.hpp)
// with one seed: the same best step, and the same draws and means to a relative 1e-3 of their
// spread (the GEMMs sum in another order on a GPU, Adam carries the roundings along, and the GPU's
// libm draws the noise to a few ulps of the CPU's; under the emulation, whose GEMMs are the CPU
// BLAS, they agree to rounding). Built twice like tests/test_cuda_backend.cpp: over the emulated
// kernels (every CI run) and natively (label gpu, skipped without a GPU).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/cuda_backend.hpp"
#include "experiment/config.hpp"
#include "experiment/diffusion_forecaster.hpp"
#include "tests/check.hpp"
#include "tests/synthetic_weights.hpp"

namespace twp {
namespace {

struct Drawn {
    std::vector<float> samples, paths;
    std::string best_step;
};

Drawn fit_on(Backend& backend, const PredictorData& data, const std::vector<History>& histories) {
    Config config;
    DiffusionOptions options;
    options.hidden = 16;
    options.embedding = 8;
    options.batch_size = 64;
    options.steps = 60;
    options.validate_every = 20;
    options.samples = 6;
    options.sampler_steps = 5;
    options.max_rows = 10;  // several sampling passes, the last one short
    std::unique_ptr<Forecaster> f = make_diffusion_forecaster(ForecasterContext{backend, config, data, nullptr, {}, false}, options);
    f->fit(data);
    Drawn d;
    d.samples = f->sample(histories, data.space.dim());
    d.paths = f->sample_paths(histories[0], data.space.dim(), 3);
    for (const ForecasterFact& fact : f->facts())
        if (fact.key == "best_step") d.best_step = fact.value;
    return d;
}

TEST_CASE("the diffusion forecaster fits and samples on the CUDA backend as on the CPU backend", "[diffusion][cuda_backend]") {
    CpuBackend cpu(2);
    CudaBackend cuda(0);
    const PredictorData data =
        test::raw_data(cpu, test::decaying_runs(2, 14, 10, {12, 8}, {1e-2f, 1e-3f}, 0.8f, 5), 3, 0.25);
    std::vector<History> histories;
    for (const Window& w : data.test_windows) histories.push_back({data.runs.runs[w.run_index].vectors.data(), w.first + 3});
    REQUIRE(histories.size() >= 2);
    const Drawn on_cpu = fit_on(cpu, data, histories), on_cuda = fit_on(cuda, data, histories);
    CHECK(on_cuda.best_step == on_cpu.best_step);
    CHECK(on_cpu.best_step != "0");
    REQUIRE(on_cuda.samples.size() == on_cpu.samples.size());
    // The draws relative to the last value (what is drawn: the step), CUDA against CPU.
    const int64_t dim = data.space.dim(), s = 6;
    std::vector<float> cpu_steps, cuda_steps;
    for (size_t h = 0; h < histories.size(); ++h) {
        const float* last = histories[h].vectors + (histories[h].length - 1) * dim;
        for (int64_t k = 0; k < s; ++k)
            for (int64_t c = 0; c < dim; ++c) {
                cpu_steps.push_back(on_cpu.samples[(h * s + k) * dim + c] - last[c]);
                cuda_steps.push_back(on_cuda.samples[(h * s + k) * dim + c] - last[c]);
            }
    }
    const double difference = test::relative_difference(cuda_steps, cpu_steps);
    INFO("drawn steps: CUDA against CPU, relative " << difference);
    CHECK(difference < 1e-3);
    CHECK(test::relative_difference(on_cuda.paths, on_cpu.paths) < 1e-3);
}

}  // namespace
}  // namespace twp
