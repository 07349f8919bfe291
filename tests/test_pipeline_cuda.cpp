// The whole experiment on the CUDA backend against the same experiment on the CPU backend, with
// the same seed: base training with snapshots (2 runs), PCA, predictor training, direct
// evaluation, autoregressive extrapolation and the plug-in test, on a small configuration and
// synthetic MNIST-shaped images. Built twice like tests/test_cuda_backend.cpp: over the emulated
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
#include "experiment/base_training.hpp"
#include "experiment/evaluation.hpp"
#include "experiment/predictor.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/weight_dataset.hpp"
#include "tests/check.hpp"
#include "tests/synthetic_mnist.hpp"

namespace twp {
namespace {

struct PipelineResult {
    std::vector<RunSummary> base;
    std::vector<std::vector<float>> last_snapshots;  // per run
    PcaModel pca;
    PredictorHistory history;
    DirectEvaluation direct;
    Extrapolation extrapolation;
    PluginEvaluation plugin;
};

PipelineResult run_pipeline(Backend& backend, const Dataset& dataset, const std::filesystem::path& dir) {
    PipelineResult result;
    BaseTrainingOptions base;
    base.epochs = 2;
    base.snapshots_per_epoch = 6;
    base.num_runs = 2;
    base.show_progress = false;
    base.test_batch_size = 64;
    base.snapshot_dir = dir;
    result.base = train_base(backend, dataset, base);
    for (int run = 1; run <= base.num_runs; ++run) {
        const RunIndex index = RunIndex::load(run_directory(dir, run));
        result.last_snapshots.push_back(read_snapshot(index.directory() / index.records().back().file));
    }
    const WeightRuns runs = load_weight_runs(dir, 0.5);
    std::string note;
    const PredictorData data = prepare_predictor_data(backend, runs, 3, true, 4, false, note);
    result.pca = data.space.pca;
    PredictorOptions options;
    options.sequence_length = 3;
    options.batch_size = 4;
    options.learning_rate = 1e-3f;
    options.epochs = 3;
    options.seed = 5;
    options.show_progress = false;
    options.model.heads = 2;
    options.model.layers = 2;
    options.model.feedforward = 16;
    options.model.dropout = 0.1f;
    const TrainedPredictor trained = train_predictor(backend, data, options);
    result.history = trained.history;
    Predictor predictor(backend, trained.config, trained.best_parameters, trained.delta_target, data.space);
    result.direct = evaluate_direct(predictor, data);
    result.extrapolation = extrapolate(predictor, data, 2);
    result.plugin = plugin_test(backend, dataset.test, data, result.extrapolation);
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
    const PipelineResult on_cuda = run_pipeline(cuda, dataset, dir / "cuda");
    const PipelineResult on_cpu = run_pipeline(cpu, dataset, dir / "cpu");
    std::filesystem::remove_all(dir);

    double worst_snapshot = 0, worst_variance = 0, worst_loss = 0, worst_mse = 0;
    for (size_t r = 0; r < on_cpu.last_snapshots.size(); ++r)
        worst_snapshot = std::max(worst_snapshot, relative_difference(on_cuda.last_snapshots[r], on_cpu.last_snapshots[r]));
    REQUIRE(on_cuda.pca.components == on_cpu.pca.components);
    for (int64_t c = 0; c < on_cpu.pca.components; ++c) {
        worst_variance = std::max(worst_variance, relative(on_cuda.pca.explained_variance[c], on_cpu.pca.explained_variance[c]));
        double dot = 0;
        for (int64_t j = 0; j < on_cpu.pca.dim; ++j)
            dot += double(on_cuda.pca.basis[c * on_cpu.pca.dim + j]) * on_cpu.pca.basis[c * on_cpu.pca.dim + j];
        INFO("component " << c << ": cos " << dot);
        CHECK(dot >= 0.999);  // same axis and the same sign
    }
    for (size_t e = 0; e < on_cpu.history.train_loss.size(); ++e) {
        worst_loss = std::max(worst_loss, relative(on_cuda.history.train_loss[e], on_cpu.history.train_loss[e]));
        worst_loss = std::max(worst_loss, relative(on_cuda.history.test_loss[e], on_cpu.history.test_loss[e]));
    }
    CHECK(on_cuda.history.best_epoch == on_cpu.history.best_epoch);
    for (size_t m = 0; m < kMethods.size(); ++m) {
        worst_mse = std::max(worst_mse, relative(on_cuda.direct.methods[m].pca_mse, on_cpu.direct.methods[m].pca_mse));
        worst_mse = std::max(worst_mse, relative(on_cuda.direct.methods[m].weight_mse, on_cpu.direct.methods[m].weight_mse));
        REQUIRE(on_cuda.extrapolation.weight_mse[m].size() == on_cpu.extrapolation.weight_mse[m].size());
        for (size_t s = 0; s < on_cpu.extrapolation.weight_mse[m].size(); ++s)
            worst_mse = std::max(worst_mse, relative(on_cuda.extrapolation.weight_mse[m][s], on_cpu.extrapolation.weight_mse[m][s]));
    }
    INFO("worst relative differences: snapshots " << worst_snapshot << ", explained variance " << worst_variance
                                                 << ", predictor losses " << worst_loss << ", evaluation MSEs " << worst_mse);
    WARN("CUDA vs CPU pipeline: snapshots " << worst_snapshot << ", explained variance " << worst_variance
                                            << ", predictor losses " << worst_loss << ", evaluation MSEs " << worst_mse);
    CHECK(worst_snapshot < 1e-4);
    CHECK(worst_variance < 1e-3);
    CHECK(worst_loss < 1e-3);
    CHECK(worst_mse < 1e-3);
    for (size_t r = 0; r < on_cpu.base.size(); ++r)
        CHECK(std::abs(on_cuda.base[r].final_test.accuracy - on_cpu.base[r].final_test.accuracy) <= 100.0 / 128 + 1e-9);
    REQUIRE(on_cuda.plugin.series == on_cpu.plugin.series);
    for (size_t s = 0; s < on_cpu.plugin.accuracy.size(); ++s)
        for (size_t i = 0; i < on_cpu.plugin.accuracy[s].size(); ++i) {
            INFO(on_cpu.plugin.series[s] << ", step " << i + 1);
            CHECK(std::abs(on_cuda.plugin.accuracy[s][i] - on_cpu.plugin.accuracy[s][i]) <= 100.0 / 128 + 1e-9);
        }
}

}  // namespace
}  // namespace twp
