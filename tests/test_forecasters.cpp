// Forecasters as one list (experiment/forecaster.hpp): a forecaster added with one class and one
// registration reaches every output of an experiment — the evaluation, results.json, the summary
// and the plots' data — with numbers the test computes on its own; and the built-in baselines
// forecast what their formulas say.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/pipeline.hpp"
#include "tests/synthetic_mnist.hpp"

namespace twp {
namespace {

// Drift: the last vector plus the mean one-step change over the train windows' targets. Fitted
// (on the model-space data, which without --standardize is PCA space), so it is a learned
// forecaster, on trial beside the transformer.
class Drift final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"drift", "drift (x_t + mean step)", "drift", "drift"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kLearned; }
    void fit(const PredictorData& data) override {
        const int64_t d = data.space.dim(), s = data.sequence_length;
        step_.assign(d, 0.0f);
        for (const Window& w : data.train_windows) {
            const float* run = data.model[w.run_index].data();
            for (int64_t j = 0; j < d; ++j) step_[j] += (run[(w.first + s) * d + j] - run[(w.first + s - 1) * d + j]);
        }
        for (float& v : step_) v /= float(data.train_windows.size());
    }
    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        REQUIRE(width == int64_t(step_.size()));
        std::vector<float> next;
        for (const History& h : histories)
            for (int64_t j = 0; j < width; ++j) next.push_back(h.vectors[(h.length - 1) * width + j] + step_[j]);
        return next;
    }
    std::vector<float> step_;
};

std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

double mse(const float* a, const float* b, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return sum / double(n);
}

TEST_CASE("a forecaster registered once appears in every output with its own numbers", "[forecasters]") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("twp_test_forecasters_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    forecaster_registry().add("drift", [](const ForecasterContext&) { return std::make_unique<Drift>(); });
    struct Unregister {
        ~Unregister() { forecaster_registry().remove("drift"); }
    } unregister;

    Config config;
    config.training_epochs = 2;
    config.snapshots_per_epoch = 4;
    config.num_runs = 2;
    config.snapshot_dir = (dir / "snapshots").string();
    config.results_dir = (dir / "results").string();
    config.sequence_length = 2;
    config.apply_pca = true;
    config.n_components = 3;
    config.predictor_epochs = 2;
    config.nhead = 1;
    config.num_layers = 1;
    config.dim_feedforward = 8;
    config.extrapolation_steps = 2;
    Inputs inputs;
    inputs.dataset.name = "mnist";
    inputs.dataset.train = test::synthetic_mnist(256, 31);
    inputs.dataset.test = test::synthetic_mnist(64, 32);
    CpuBackend backend(2);
    const ExperimentResults r = run_experiment(backend, config, make_plan(config), inputs, "test");

    // The list: the built-ins in order, then the new one.
    REQUIRE(r.forecasters.size() == forecaster_registry().entries().size());
    const size_t drift = r.forecasters.size() - 1;
    CHECK(r.forecasters[0].names.key == "transformer");
    CHECK(r.forecasters[1].names.key == "last_value");
    CHECK(r.forecasters[2].names.key == "linear");
    CHECK(r.forecasters[drift].names.key == "drift");

    // Its direct MSE, recomputed here from the data: x_t + the mean train step against x_{t+1}.
    const PredictorData& data = *r.data;
    const int64_t d = data.space.dim(), s = data.sequence_length;
    REQUIRE(d == 3);
    std::vector<double> step(d, 0.0);
    for (const Window& w : data.train_windows)
        for (int64_t j = 0; j < d; ++j)
            step[j] += data.scores[w.run_index][(w.first + s) * d + j] - data.scores[w.run_index][(w.first + s - 1) * d + j];
    double expected = 0;
    for (const Window& w : data.test_windows) {
        std::vector<float> next(d);
        for (int64_t j = 0; j < d; ++j)
            next[j] = data.scores[w.run_index][(w.first + s - 1) * d + j] + float(step[j] / double(data.train_windows.size()));
        expected += mse(next.data(), &data.scores[w.run_index][(w.first + s) * d], d);
    }
    expected /= double(data.test_windows.size());
    REQUIRE(r.direct);
    CHECK(r.direct->forecasters[drift].pca_mse == Approx(expected).epsilon(1e-4));
    // Its extrapolation: two autoregressive steps of the same drift from each run's first test window.
    REQUIRE(r.extrapolation);
    REQUIRE(r.extrapolation->steps == 2);
    for (const Extrapolation::RunPath& path : r.extrapolation->paths)
        for (int i = 0; i < path.steps; ++i)
            for (int64_t j = 0; j < d; ++j)
                CHECK(path.predicted[drift][i * d + j] ==
                      Approx(data.scores[path.run_index][(path.start - 1) * d + j] +
                             (i + 1) * step[j] / double(data.train_windows.size())).margin(1e-4));

    // results.json: under its key in every section, with the evaluation's numbers.
    const nlohmann::json j = nlohmann::json::parse(file_text(r.dir / "results.json"));
    CHECK(j["direct_prediction"]["drift"]["pca_mse"].get<double>() == r.direct->forecasters[drift].pca_mse);
    CHECK(j["extrapolation"]["drift"]["pca_mse_per_step"][1].get<double>() == r.extrapolation->pca_mse[drift][1]);
    REQUIRE(r.plugin);
    CHECK(r.plugin->series[drift] == "drift");
    CHECK(j["plug_in"]["drift"]["accuracy_per_step"][0].get<double>() == r.plugin->accuracy[drift][0]);
    CHECK(j["plug_in"]["drift"]["per_run"].size() == 2);

    // The summary: a row in each table and a verdict against the best baseline.
    const std::string summary = file_text(r.dir / "results_summary.txt");
    CHECK_THAT(summary, Catch::Contains("drift (x_t + mean step)"));
    CHECK_THAT(summary, Catch::Contains("  -> the drift "));
    CHECK_THAT(summary, Catch::Contains("the drift's weights score"));
    // The plots' data: the extrapolation error, the plug-in accuracy and the trajectory (learned).
    CHECK_THAT(file_text(r.dir / "plots" / "extrapolation_error.csv"), Catch::Contains("drift (x_t + mean step),1,"));
    CHECK_THAT(file_text(r.dir / "plots" / "plug_in_accuracy.csv"), Catch::Contains("\ndrift,1,"));
    CHECK_THAT(file_text(r.dir / "plots" / "weight_trajectory.csv"), Catch::Contains("\nrun 1 drift,"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("the baselines forecast their formulas, in any width", "[forecasters]") {
    CpuBackend backend(1);
    Config config;
    PredictorData data;
    const ForecasterContext context{backend, config, data, nullptr, {}, false};
    std::unique_ptr<Forecaster> last, linear;
    for (auto& entry : forecaster_registry().entries()) {
        if (entry.key == "last_value") last = entry.make(context);
        if (entry.key == "linear") linear = entry.make(context);
    }
    REQUIRE(last);
    REQUIRE(linear);
    CHECK(last->role() == ForecasterRole::kBaseline);
    CHECK(linear->forecasts_weights());
    const std::vector<float> series = {1, 10, 2, 12, 4, 15};  // three vectors of width 2
    CHECK(last->predict({{series.data(), 3}}, 2) == std::vector<float>{4, 15});
    CHECK(linear->predict({{series.data(), 3}, {series.data(), 1}}, 2) == std::vector<float>{6, 18, 1, 10});
    CHECK(linear->forecast({series.data(), 2}, 2, 3) == std::vector<float>{3, 14, 4, 16, 5, 18});
    CHECK(last->forecast({series.data(), 2}, 2, 2) == std::vector<float>{2, 12, 2, 12});
}

}  // namespace
}  // namespace twp
