// The whole experiment on the CUDA backend against the same experiment on the CPU backend, with
// the same seed: base training with snapshots (2 runs), PCA, predictor training, direct
// evaluation, autoregressive extrapolation and the plug-in test, on a small configuration and
// synthetic MNIST-shaped images, through the pipeline twp itself runs (experiment/pipeline.hpp).
// Built twice like tests/test_cuda_backend.cpp: over the emulated
// kernels (twp_pipeline_cuda_tests, every CI run) and natively (twp_pipeline_cuda_tests_gpu,
// label gpu, skipped without a GPU).
//
// What may drift, and why. Every CUDA op sums in another order than the CPU op (cuBLAS blocks,
// the kernels' fixed trees, double accumulators rounded once), so two runs differ by float
// roundings from the first step on, and training carries them along. Bounds, with what the
// emulated CUDA backend measured (its GEMMs are the CPU BLAS, so a GPU will be further off):
// - snapshots after 16 SGD steps: relative 1e-4 (measured 5.6e-8);
// - PCA explained variances: relative 1e-3 (4.5e-7); the axes aligned with the same sign,
//   |cos| >= 0.999, as the kept variances are far apart;
// - predictor losses per epoch: relative 1e-3 (0: the emulated attention is bit for bit the CPU's);
//   Adam divides by sqrt(v), which lets early differences grow, hence the margin;
// - the evaluation's MSEs (direct and per extrapolation step): relative 1e-3 (3.4e-6);
// - test and plug-in accuracies: an argmax can flip on a near tie, so within one image of 128.
// The CPU results themselves do not depend on the thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "engine/cuda_backend.hpp"
#include "experiment/pipeline.hpp"
#include "experiment/snapshots.hpp"
#include "tests/check.hpp"
#include "tests/synthetic_mnist.hpp"

namespace twp {
namespace {

struct PipelineResult {
    ExperimentResults experiment;
    std::vector<std::vector<float>> last_snapshots;  // per run
};

// The pipeline main.cpp runs (experiment/pipeline.hpp), on `backend` and the synthetic images.
PipelineResult run_pipeline(Backend& backend, const Dataset& dataset, const std::filesystem::path& dir) {
    Config config;
    config.training_epochs = 2;
    config.snapshots_per_epoch = 6;
    config.num_runs = 2;
    config.snapshot_dir = (dir / "snapshots").string();
    config.results_dir = (dir / "results").string();
    config.sequence_length = 3;
    config.apply_pca = true;
    config.n_components = 4;
    config.batch_size = 4;
    config.learning_rate = 1e-3;
    config.predictor_epochs = 3;
    config.nhead = 2;
    config.num_layers = 2;
    config.dim_feedforward = 16;
    config.dropout = 0.1;
    config.extrapolation_steps = 2;
    config.forecasters = {"seed", "last_value", "linear"};  // the reference's transformer and the baselines
    const Plan plan = make_plan(config);
    Inputs inputs;
    inputs.dataset = dataset;
    PipelineResult result;
    result.experiment = run_experiment(backend, config, plan, inputs, "test");
    for (int run = 1; run <= config.num_runs; ++run) {
        const RunIndex index = RunIndex::load(run_directory(config.snapshot_dir, run));
        result.last_snapshots.push_back(read_snapshot(index.directory() / index.records().back().file));
    }
    return result;
}

using test::relative_difference;

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

TEST_CASE("the whole experiment on the CUDA backend gives the CPU backend's results", "[pipeline_cuda]") {
    Dataset dataset;
    dataset.name = "mnist";
    dataset.train = test::synthetic_mnist(256, 21);  // 8 batches of 32 per epoch
    dataset.test = test::synthetic_mnist(128, 22);
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("twp_test_pipeline_cuda_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    CudaBackend cuda(0);
    CpuBackend cpu(2);
    const PipelineResult cuda_run = run_pipeline(cuda, dataset, dir / "cuda");
    const PipelineResult cpu_run = run_pipeline(cpu, dataset, dir / "cpu");
    std::filesystem::remove_all(dir);
    const ExperimentResults& on_cuda = cuda_run.experiment;
    const ExperimentResults& on_cpu = cpu_run.experiment;
    REQUIRE(on_cuda.predictors.size() == 1);
    REQUIRE(on_cpu.predictors.size() == 1);
    const std::optional<PredictorHistory>& cuda_history = on_cuda.predictors[0].history;
    const std::optional<PredictorHistory>& cpu_history = on_cpu.predictors[0].history;
    REQUIRE(cuda_history);
    REQUIRE(cpu_history);
    REQUIRE(on_cpu.direct);
    REQUIRE(on_cpu.extrapolation);
    REQUIRE(on_cpu.plugin);
    REQUIRE(on_cuda.direct);
    REQUIRE(on_cuda.extrapolation);
    REQUIRE(on_cuda.plugin);
    const PcaModel& cuda_pca = on_cuda.data->space.pca;
    const PcaModel& cpu_pca = on_cpu.data->space.pca;

    double worst_snapshot = 0, worst_variance = 0, worst_loss = 0, worst_mse = 0;
    REQUIRE(cpu_run.last_snapshots.size() == 2);
    for (size_t r = 0; r < cpu_run.last_snapshots.size(); ++r)
        worst_snapshot = std::max(worst_snapshot, relative_difference(cuda_run.last_snapshots[r], cpu_run.last_snapshots[r]));
    REQUIRE(cuda_pca.components == cpu_pca.components);
    for (int64_t c = 0; c < cpu_pca.components; ++c) {
        worst_variance = std::max(worst_variance, relative(cuda_pca.explained_variance[c], cpu_pca.explained_variance[c]));
        double dot = 0;
        for (int64_t j = 0; j < cpu_pca.dim; ++j)
            dot += double(cuda_pca.basis[c * cpu_pca.dim + j]) * cpu_pca.basis[c * cpu_pca.dim + j];
        INFO("component " << c << ": cos " << dot);
        CHECK(dot >= 0.999);  // same axis and the same sign
    }
    REQUIRE(cpu_history->train_loss.size() == 3);
    for (size_t e = 0; e < cpu_history->train_loss.size(); ++e) {
        worst_loss = std::max(worst_loss, relative(cuda_history->train_loss[e], cpu_history->train_loss[e]));
        worst_loss = std::max(worst_loss, relative(cuda_history->selection_loss[e], cpu_history->selection_loss[e]));
    }
    CHECK(cuda_history->best_epoch == cpu_history->best_epoch);
    REQUIRE(on_cpu.forecasters.size() == 3);
    REQUIRE(on_cuda.forecasters.size() == on_cpu.forecasters.size());
    for (size_t m = 0; m < on_cpu.forecasters.size(); ++m) {
        const ForecastError& a = on_cuda.direct->forecasters[m];
        const ForecastError& b = on_cpu.direct->forecasters[m];
        worst_mse = std::max(worst_mse, relative(a.pca_mse, b.pca_mse));
        worst_mse = std::max(worst_mse, relative(a.weight_mse, b.weight_mse));
        REQUIRE(on_cuda.extrapolation->weight_mse[m].size() == on_cpu.extrapolation->weight_mse[m].size());
        for (size_t s = 0; s < on_cpu.extrapolation->weight_mse[m].size(); ++s)
            worst_mse = std::max(worst_mse, relative(on_cuda.extrapolation->weight_mse[m][s], on_cpu.extrapolation->weight_mse[m][s]));
    }
    INFO("worst relative differences: snapshots " << worst_snapshot << ", explained variance " << worst_variance
                                                 << ", predictor losses " << worst_loss << ", evaluation MSEs " << worst_mse);
    WARN("CUDA vs CPU pipeline: snapshots " << worst_snapshot << ", explained variance " << worst_variance
                                            << ", predictor losses " << worst_loss << ", evaluation MSEs " << worst_mse);
    CHECK(worst_snapshot < 1e-4);
    CHECK(worst_variance < 1e-3);
    CHECK(worst_loss < 1e-3);
    CHECK(worst_mse < 1e-3);
    REQUIRE(on_cpu.base_runs.size() == 2);
    for (size_t r = 0; r < on_cpu.base_runs.size(); ++r)
        CHECK(std::abs(on_cuda.base_runs[r].final_test.accuracy - on_cpu.base_runs[r].final_test.accuracy) <=
              100.0 / 128 + 1e-9);
    REQUIRE(on_cuda.plugin->series == on_cpu.plugin->series);
    for (size_t s = 0; s < on_cpu.plugin->accuracy.size(); ++s)
        for (size_t i = 0; i < on_cpu.plugin->accuracy[s].size(); ++i) {
            INFO(on_cpu.plugin->series[s] << ", step " << i + 1);
            CHECK(std::abs(on_cuda.plugin->accuracy[s][i] - on_cpu.plugin->accuracy[s][i]) <= 100.0 / 128 + 1e-9);
        }
}

}  // namespace
}  // namespace twp
