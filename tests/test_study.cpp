// The honest protocol's pieces: validation windows split off the train windows, the runs split,
// floored standardization, the intervals and the paired bootstrap, and a study (repeats x splits)
// whose aggregate is made of its units' own numbers.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "experiment/feature_space.hpp"
#include "experiment/pipeline.hpp"
#include "experiment/statistics.hpp"
#include "experiment/weight_dataset.hpp"
#include "tests/synthetic_mnist.hpp"

namespace twp {
namespace {

std::vector<std::pair<int, int64_t>> firsts(const std::vector<Window>& windows) {
    std::vector<std::pair<int, int64_t>> out;
    for (const Window& w : windows) out.push_back({w.run_index, w.first});
    return out;
}

// Runs of `count` snapshots of `dim` values, vectors[i][j] = f(run, i, j).
template <class F>
WeightRuns make_runs(int runs, int64_t count, int64_t dim, double train_split, F value) {
    WeightRuns w;
    w.dim = dim;
    for (int r = 0; r < runs; ++r) {
        RunSnapshots run;
        run.run = r + 1;
        run.dataset = "mnist";
        run.count = count;
        run.split = run.train_end = run.test_begin = int64_t(std::floor(double(count) * train_split));
        for (int64_t i = 0; i < count; ++i)
            for (int64_t j = 0; j < dim; ++j) run.vectors.push_back(float(value(r, i, j)));
        run.test_accuracy.assign(count, 90.0);
        run.test_loss.assign(count, 0.3);
        for (int64_t i = 0; i < count; ++i) run.epoch_position.push_back(double(i));
        w.runs.push_back(run);
    }
    return w;
}

std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("validation windows are the last train windows of each run, at least one train window kept", "[study]") {
    std::vector<Window> train;
    for (int64_t f = 0; f < 10; ++f) train.push_back({0, f});
    for (int64_t f = 0; f < 4; ++f) train.push_back({1, f});
    train.push_back({2, 0});
    const std::vector<Window> validation = split_off_validation(train, 0.2);
    // ceil(0.2 x 10) = 2, ceil(0.2 x 4) = 1, and a run of one window keeps it.
    CHECK(firsts(validation) == std::vector<std::pair<int, int64_t>>{{0, 8}, {0, 9}, {1, 3}});
    CHECK(firsts(train) == std::vector<std::pair<int, int64_t>>{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0, 6},
                                                                 {0, 7}, {1, 0}, {1, 1}, {1, 2}, {2, 0}});
    std::vector<Window> none = train;
    CHECK(split_off_validation(none, 0).empty());
    CHECK(none.size() == train.size());
    CHECK_THROWS_WITH(split_off_validation(none, 1.0), Catch::Contains("--validation_fraction"));
}

TEST_CASE("the runs split tests the held-out run whole and trains on every snapshot of the others", "[study]") {
    const WeightRuns runs = make_runs(3, 6, 2, 0.5, [](int r, int64_t i, int64_t j) { return r + 0.1 * i + j; });
    const WeightRuns fold = hold_out_run(runs, 1);
    CHECK(fold.train_snapshots() == 12);
    // k = 2: runs 1 and 3 give windows 0..3 to train, run 2 gives windows 0..3 to test.
    CHECK(firsts(make_windows(fold, 2, true)) ==
          std::vector<std::pair<int, int64_t>>{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {2, 0}, {2, 1}, {2, 2}, {2, 3}});
    CHECK(firsts(make_windows(fold, 2, false)) == std::vector<std::pair<int, int64_t>>{{1, 0}, {1, 1}, {1, 2}, {1, 3}});
    // The time split is untouched by it: train windows end before the split.
    CHECK(firsts(make_windows(runs, 2, false)) ==
          std::vector<std::pair<int, int64_t>>{{0, 3}, {1, 3}, {2, 3}});
    CHECK_THROWS_WITH(hold_out_run(runs, 3), Catch::Contains("no run 4"));
}

TEST_CASE("standardization floors a vanishing tail's scale at a fraction of the largest", "[study]") {
    // Three columns: standard deviation 2, 1e-9 (a PCA tail) and 0 (constant).
    const WeightRuns runs = make_runs(1, 9, 3, 0.9,  // 8 train snapshots
                                       [](int, int64_t i, int64_t j) {
        const double sign = i % 2 ? 1.0 : -1.0;
        return j == 0 ? 5 + 2 * sign : j == 1 ? 1e-9 * sign : 7.0;
    });
    std::vector<std::vector<float>> series = {runs.runs[0].vectors};
    std::vector<float> mean, scale;
    CHECK(fit_standardization(series, runs, 3, mean, scale) == 2);
    CHECK(mean[0] == Approx(5.0));
    CHECK(scale[0] == Approx(2.0));
    CHECK(scale[1] == Approx(kStandardizeFloor * 2.0));
    CHECK(scale[2] == Approx(kStandardizeFloor * 2.0));
    // Through the pipeline: the note says how many were floored and the model space stays bounded.
    CpuBackend backend(1);
    DataOptions options;
    options.sequence_length = 2;
    options.standardize = true;
    std::string note;
    const WeightRuns two = make_runs(2, 12, 3, 0.5, [](int r, int64_t i, int64_t j) {
        const double sign = (i + r) % 2 ? 1.0 : -1.0;
        return j == 0 ? 5 + 2 * sign + 0.1 * i : j == 1 ? 1e-9 * sign : 7.0;
    });
    const PredictorData data = prepare_predictor_data(backend, two, options, note);
    CHECK_THAT(note, Catch::Contains("2 of 3 components") && Catch::Contains("floor"));
    for (const auto& run : data.model)
        for (const float v : run) CHECK(std::abs(v) < 10.0f);
}

TEST_CASE("mean intervals use Student's t over the repeats", "[study]") {
    const Interval i = mean_interval({1, 2, 3, 4, 5});
    CHECK(i.mean == Approx(3.0));
    CHECK(i.count == 5);
    // sd = sqrt(2.5); half width t(4) sd / sqrt(5) = 2.7764 x 0.70711.
    CHECK(i.low == Approx(3.0 - 2.7764 * std::sqrt(2.5 / 5)).epsilon(1e-4));
    CHECK(i.high == Approx(3.0 + 2.7764 * std::sqrt(2.5 / 5)).epsilon(1e-4));
    const Interval one = mean_interval({4, NAN});
    CHECK(one.mean == 4.0);
    CHECK(one.count == 1);
    CHECK(std::isnan(one.low));
    CHECK(t_quantile_975(1) == Approx(12.7062));
    CHECK(t_quantile_975(100) == Approx(1.984).epsilon(2e-3));
}

TEST_CASE("the paired bootstrap of the ratio to last value gives the verdict the errors support", "[study]") {
    PairedErrors half, noisy, worse;
    for (int repeat = 0; repeat < 3; ++repeat)
        for (int run = 0; run < 2; ++run) {
            std::vector<double> reference, h, n, w;
            for (int i = 0; i < 20; ++i) {
                const double e = 1.0 + 0.5 * std::sin(1.3 * i + repeat + 2 * run);
                reference.push_back(e);
                h.push_back(0.5 * e);                      // exactly half: ratio 0.5 in every resample
                n.push_back(e * (i % 2 ? 1.3 : 0.7));      // on average the same
                w.push_back(2.0 * e + 0.1 * (i % 3));      // clearly worse
            }
            for (auto* p : {&half, &noisy, &worse}) {
                p->reference.push_back(reference);
                p->group.push_back(repeat);
            }
            half.errors.push_back(h);
            noisy.errors.push_back(n);
            worse.errors.push_back(w);
        }
    const RatioVerdict a = ratio_to_reference(half, 7);
    CHECK(a.ratio == Approx(0.5));
    CHECK(a.low == Approx(0.5));
    CHECK(a.high == Approx(0.5));
    CHECK(a.verdict == "yes");
    const RatioVerdict b = ratio_to_reference(noisy, 7);
    CHECK(b.low < 1.0);
    CHECK(b.high > 1.0);
    CHECK(b.verdict == "not significant");
    const RatioVerdict c = ratio_to_reference(worse, 7);
    CHECK(c.low > 1.9);
    CHECK(c.verdict == "no");
    CHECK_THAT(verdict_line("the model", c), Catch::Contains("LOSES"));
    // Seeded: the same interval twice.
    const RatioVerdict again = ratio_to_reference(noisy, 7);
    CHECK(again.low == b.low);
    CHECK(again.high == b.high);
}

TEST_CASE("a study of two repeats on both splits aggregates its units' own numbers", "[study]") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("twp_test_study_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    Config config;
    config.training_epochs = 2;
    config.snapshots_per_epoch = 4;
    config.num_runs = 2;
    config.snapshot_dir = (dir / "snapshots").string();
    config.results_dir = (dir / "results").string();
    config.sequence_length = 2;
    config.apply_pca = true;
    config.n_components = 3;
    config.forecasters = {"last_value", "linear"};
    config.extrapolation_steps = 2;
    config.repeats = 2;
    config.split = "both";
    Inputs inputs;
    inputs.dataset.name = "mnist";
    inputs.dataset.train = test::synthetic_mnist(256, 31);
    inputs.dataset.test = test::synthetic_mnist(64, 32);
    CpuBackend backend(2);
    const ExperimentResults r = run_experiment(backend, config, make_plan(config), inputs, "test");

    // Repeat 2 trained its own runs with new seeds, in its own folder.
    CHECK(std::filesystem::exists(dir / "snapshots" / "training_runs" / "run_2"));
    CHECK(std::filesystem::exists(dir / "snapshots" / "repeat_2" / "training_runs" / "run_2"));
    const nlohmann::json j = nlohmann::json::parse(file_text(r.dir / "results.json"));
    REQUIRE(j["units"].size() == 2 * (1 + 2));
    CHECK(j["repeats"] == 2);
    // The time split's mean over repeats is the mean of the units' own direct MSEs.
    double sum = 0;
    for (const auto& unit : j["units"])
        if (unit["split"] == "time") {
            const nlohmann::json u = nlohmann::json::parse(file_text(r.dir / unit["folder"].get<std::string>() / "results.json"));
            sum += u["direct_prediction"]["linear"]["weight_mse"].get<double>();
        }
    const auto& linear = j["splits"]["time"]["forecasters"]["linear"];
    CHECK(linear["direct_weight_mse"]["mean"].get<double>() == Approx(sum / 2).epsilon(1e-12));
    CHECK(linear["direct_weight_mse"]["repeats"] == 2);
    CHECK(linear["direct_weight_mse"]["low"].get<double>() <= linear["direct_weight_mse"]["mean"].get<double>());
    // The runs split merges its folds: each run is tested once per repeat, window-weighted.
    double windows = 0, weighted = 0;
    for (const auto& unit : j["units"])
        if (unit["split"] == "runs" && unit["repeat"] == 1) {
            const nlohmann::json u = nlohmann::json::parse(file_text(r.dir / unit["folder"].get<std::string>() / "results.json"));
            const double n = u["direct_prediction"]["windows"].get<double>();
            windows += n;
            weighted += n * u["direct_prediction"]["linear"]["weight_mse"].get<double>();
        }
    CHECK(j["splits"]["runs"]["test_windows_per_repeat"].get<double>() == windows);
    CHECK(j["splits"]["runs"]["forecasters"]["linear"]["direct_weight_mse_per_repeat"][0].get<double>() ==
          Approx(weighted / windows).epsilon(1e-12));
    // A verdict per split and forecaster; last value against itself is exactly 1.
    REQUIRE(j["verdicts"].size() == 4);
    for (const auto& v : j["verdicts"])
        if (v["forecaster"] == "last_value") CHECK(v["ratio"].get<double>() == 1.0);
    CHECK_THAT(file_text(r.dir / "results_summary.txt"), Catch::Contains("beats last value:"));
    CHECK(std::filesystem::exists(r.dir / "plots" / "extrapolation_error_runs.png"));
    CHECK(std::filesystem::exists(r.dir / "plots" / "plug_in_accuracy_time.csv"));
    std::filesystem::remove_all(dir);
}

}  // namespace twp
