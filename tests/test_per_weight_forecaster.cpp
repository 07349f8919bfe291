// The per-weight MLP forecaster (experiment/per_weight_forecaster.*) on synthetic trajectories
// whose steps decay geometrically (tests/synthetic_weights.hpp): untrained it is the last value,
// exactly; fitted it beats the last value on the test windows by a wide margin; the same seed
// gives the same bits; the test snapshots are never read; windows of one snapshot are refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "experiment/config.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/per_weight_forecaster.hpp"
#include "tests/synthetic_weights.hpp"

namespace twp {
namespace {

constexpr int64_t kWindow = 3;  // snapshots per window: two steps per weight

// 3 runs of 16 snapshots, two groups of 50 weights whose steps differ a hundredfold; the time
// split at 11 leaves 6 train, 2 validation and 2 test windows per run.
WeightRuns synthetic_runs() { return test::decaying_runs(3, 16, 11, {50, 50}, {1e-2f, 1e-4f}, 0.7f, 5); }
ParamLayout two_groups() { return ParamLayout{{"a", {50}}, {"b", {50}}}; }

PerWeightOptions fast_options() {
    PerWeightOptions options;
    options.hidden = 16;
    options.batch_size = 512;
    options.steps = 400;
    options.validate_every = 50;
    options.inference_rows = 1000;  // not a multiple of the 100 weights: passes cross windows
    return options;
}

std::unique_ptr<Forecaster> make(Backend& backend, const Config& config, const PredictorData& data,
                                 const PerWeightOptions& options) {
    return make_per_weight_forecaster(ForecasterContext{backend, config, data, nullptr, {}, false}, two_groups(), options);
}

// Each window's history on raw weights: its run up to the window's last snapshot.
std::vector<History> raw_histories(const PredictorData& data, const std::vector<Window>& windows) {
    std::vector<History> histories;
    for (const Window& w : windows) histories.push_back({data.runs.runs[w.run_index].vectors.data(), w.first + kWindow});
    return histories;
}

// The one-step MSE of `next` [windows, dim] against each window's next snapshot.
double one_step_mse(const PredictorData& data, const std::vector<Window>& windows, const std::vector<float>& next) {
    const int64_t dim = data.space.raw_dim;
    double sum = 0;
    for (size_t i = 0; i < windows.size(); ++i) {
        const float* target = data.runs.runs[windows[i].run_index].vectors.data() + (windows[i].first + kWindow) * dim;
        for (int64_t j = 0; j < dim; ++j) sum += std::pow(double(next[i * dim + j]) - double(target[j]), 2);
    }
    return sum / double(windows.size() * dim);
}

std::vector<float> last_values(const PredictorData& data, const std::vector<Window>& windows) {
    const int64_t dim = data.space.raw_dim;
    std::vector<float> last;
    for (const Window& w : windows) {
        const float* x = data.runs.runs[w.run_index].vectors.data() + (w.first + kWindow - 1) * dim;
        last.insert(last.end(), x, x + dim);
    }
    return last;
}

std::string fact(const Forecaster& f, const std::string& key) {
    for (const ForecasterFact& fact : f.facts())
        if (fact.key == key) return fact.value;
    FAIL("no fact " << key);
    return {};
}

TEST_CASE("the untrained per-weight MLP predicts exactly the last value, on weights and on PCA scores", "[per_weight]") {
    CpuBackend backend(2);
    Config config;
    const PredictorData data = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    REQUIRE(data.test_windows.size() == 6);
    const std::vector<History> histories = raw_histories(data, data.test_windows);
    const std::vector<float> last = last_values(data, data.test_windows);

    std::unique_ptr<Forecaster> f = make(backend, config, data, fast_options());
    CHECK(f->names().key == "per_weight");
    CHECK(f->role() == ForecasterRole::kLearned);
    CHECK(f->forecasts_weights());
    CHECK(f->min_history() == kWindow);
    CHECK(f->facts().empty());
    CHECK(f->predict(histories, data.space.raw_dim) == last);  // before fit: the zero output layer
    // A fit of no steps keeps the untrained model: step 0 is the best there is.
    PerWeightOptions none = fast_options();
    none.steps = 0;
    std::unique_ptr<Forecaster> unfitted = make(backend, config, data, none);
    unfitted->fit(data);
    CHECK(unfitted->predict(histories, data.space.raw_dim) == last);
    CHECK(fact(*unfitted, "best_step") == "0");
    CHECK(fact(*unfitted, "validation_weight_mse") == fact(*unfitted, "validation_weight_mse_last_value"));

    // On PCA scores: the last k scores become weights, the prediction goes back through the PCA, so
    // the last value comes back up to the round trip's roundings.
    DataOptions options;
    options.sequence_length = kWindow;
    options.use_pca = true;
    options.components = 4;
    options.validation_fraction = 0.25;
    std::string note;
    const PredictorData pca = prepare_predictor_data(backend, synthetic_runs(), options, note);
    const int64_t d = pca.space.dim();
    REQUIRE(d == 4);
    std::unique_ptr<Forecaster> g = make(backend, config, pca, fast_options());
    std::vector<History> score_histories;
    for (const Window& w : pca.test_windows) score_histories.push_back({pca.scores[w.run_index].data(), w.first + kWindow});
    const std::vector<float> next = g->predict(score_histories, d);
    REQUIRE(next.size() == pca.test_windows.size() * d);
    for (size_t i = 0; i < pca.test_windows.size(); ++i)
        for (int64_t c = 0; c < d; ++c) {
            const float expected = pca.scores[pca.test_windows[i].run_index][(pca.test_windows[i].first + kWindow - 1) * d + c];
            CHECK(next[i * d + c] == Approx(expected).margin(1e-5));
        }
    CHECK_THROWS_WITH(g->predict(score_histories, d + 1), Catch::Contains("PCA scores"));
}

TEST_CASE("the per-weight MLP learns geometrically decaying steps and beats the last value", "[per_weight]") {
    CpuBackend backend(2);
    Config config;
    const PredictorData data = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    std::unique_ptr<Forecaster> f = make(backend, config, data, fast_options());
    f->fit(data);
    const std::vector<float> next = f->predict(raw_histories(data, data.test_windows), data.space.raw_dim);
    const double mse = one_step_mse(data, data.test_windows, next);
    const double last_value_mse = one_step_mse(data, data.test_windows, last_values(data, data.test_windows));
    INFO("test MSE " << mse << ", last value " << last_value_mse);
    CHECK(std::isfinite(mse));
    CHECK(mse < 0.3 * last_value_mse);
    // What the fit chose: a trained step, better than the last value on the validation windows.
    CHECK(std::stoll(fact(*f, "best_step")) > 0);
    CHECK(std::stod(fact(*f, "validation_weight_mse")) < 0.3 * std::stod(fact(*f, "validation_weight_mse_last_value")));
    CHECK(fact(*f, "parameters") == std::to_string((4 + 1) * 16 + (16 + 1) * 16 + 16 + 1));  // F = 2 steps + 2 groups
    CHECK(fact(*f, "steps") == "400");
    CHECK(fact(*f, "train_samples") == std::to_string(18 * 100));
    // Autoregressive forecasts continue the decay too.
    const History h = raw_histories(data, {data.test_windows.front()}).front();
    CHECK(f->forecast(h, data.space.raw_dim, 2).size() == size_t(2 * data.space.raw_dim));
}

TEST_CASE("the per-weight MLP's fit is a function of the seed", "[per_weight]") {
    CpuBackend backend(2);
    Config config;
    const PredictorData data = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    PerWeightOptions options = fast_options();
    options.steps = 100;
    const std::vector<History> histories = raw_histories(data, data.test_windows);
    std::unique_ptr<Forecaster> first = make(backend, config, data, options), second = make(backend, config, data, options);
    first->fit(data);
    second->fit(data);
    const std::vector<float> a = first->predict(histories, data.space.raw_dim);
    CHECK(a == second->predict(histories, data.space.raw_dim));
    CHECK(fact(*first, "validation_weight_mse") == fact(*second, "validation_weight_mse"));
    config.random_seed += 1;
    std::unique_ptr<Forecaster> other = make(backend, config, data, options);
    other->fit(data);
    CHECK(a != other->predict(histories, data.space.raw_dim));
}

TEST_CASE("the per-weight MLP's fit never reads a test snapshot", "[per_weight]") {
    CpuBackend backend(2);
    Config config;
    PerWeightOptions options = fast_options();
    options.steps = 100;
    const PredictorData clean = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    PredictorData poisoned = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    // Every snapshot from the split on, once the windows are made.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const int64_t dim = poisoned.space.raw_dim;
    for (size_t r = 0; r < poisoned.runs.runs.size(); ++r) {
        RunSnapshots& run = poisoned.runs.runs[r];
        for (std::vector<float>* series : {&run.vectors, &poisoned.scores[r], &poisoned.model[r]})
            std::fill(series->begin() + run.train_end * dim, series->end(), nan);
    }
    std::unique_ptr<Forecaster> a = make(backend, config, clean, options), b = make(backend, config, poisoned, options);
    a->fit(clean);
    b->fit(poisoned);
    const std::vector<float> from_clean = a->predict(raw_histories(clean, clean.validation_windows), dim);
    const std::vector<float> from_poisoned = b->predict(raw_histories(poisoned, poisoned.validation_windows), dim);
    for (float v : from_poisoned) REQUIRE(std::isfinite(v));
    CHECK(from_clean == from_poisoned);
    CHECK(std::isfinite(std::stod(fact(*b, "validation_weight_mse"))));
    CHECK(fact(*a, "validation_weight_mse") == fact(*b, "validation_weight_mse"));
    CHECK(fact(*a, "best_step") == fact(*b, "best_step"));
}

TEST_CASE("the per-weight MLP refuses windows of one snapshot, which have no step; its groups", "[per_weight]") {
    CpuBackend backend(1);
    Config config;
    const PredictorData data = test::raw_data(backend, synthetic_runs(), 1, 0.25);
    CHECK_THROWS_AS(make(backend, config, data, fast_options()), UsageError);
    CHECK_THROWS_WITH(make_per_weight_forecaster(ForecasterContext{backend, config, data, nullptr, {}, false}),
                      Catch::Contains("--sequence_length 2 or more"));
    // LeNet-5's weights are grouped by parameter tensor, any other vector is one group.
    const ParamLayout lenet = per_weight_groups(LeNet5::kParameterCount);
    CHECK(lenet.entries().size() == 10);
    CHECK(lenet.entries().front().name == "conv1.weight");
    CHECK(lenet.total() == LeNet5::kParameterCount);
    CHECK(per_weight_groups(100).entries().size() == 1);
    // The groups must cover the vectors.
    const PredictorData windows = test::raw_data(backend, synthetic_runs(), kWindow, 0.25);
    CHECK_THROWS_WITH(make_per_weight_forecaster(ForecasterContext{backend, config, windows, nullptr, {}, false},
                                                 ParamLayout{{"a", {60}}}, fast_options()),
                      Catch::Contains("groups hold 60 weights"));
}

}  // namespace
}  // namespace twp
