// The classical baselines (experiment/damped_trend.cpp, smoothing.cpp, ar.cpp, ar_weight.cpp) on
// synthetic series whose generating parameters are known: each recovers them, forecasts what its
// formula says, chooses on the validation windows (or says it chose on the train windows), and
// never reads a test window. Without PCA unless said, so PCA scores are the raw vectors.
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
#include "engine/pca.hpp"
#include "engine/random.hpp"
#include "experiment/config.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/pipeline.hpp"
#include "tests/synthetic_mnist.hpp"

namespace twp {
namespace {

// Runs of `dim`-wide snapshots (each [count, dim]), split in time at `split` snapshots, in
// windows of k; the last `validation_fraction` of each run's train windows kept for validation.
PredictorData make_data(const std::vector<std::vector<float>>& series, int64_t dim, int64_t split, int64_t k,
                        double validation_fraction) {
    PredictorData data;
    data.runs.dim = dim;
    for (size_t r = 0; r < series.size(); ++r) {
        RunSnapshots run;
        run.run = int(r) + 1;
        run.count = int64_t(series[r].size()) / dim;
        run.split = run.train_end = run.test_begin = split;
        run.vectors = series[r];
        data.runs.runs.push_back(run);
        data.scores.push_back(series[r]);
        data.model.push_back(series[r]);
    }
    data.space.raw_dim = dim;
    data.sequence_length = k;
    data.train_windows = make_windows(data.runs, k, true);
    data.validation_windows = split_off_validation(data.train_windows, validation_fraction);
    data.test_windows = make_windows(data.runs, k, false);
    return data;
}

std::unique_ptr<Forecaster> make(const std::string& key, Backend& backend, const PredictorData& data) {
    static const Config config;
    const ForecasterContext context{backend, config, data, nullptr, {}, false};
    for (const auto& entry : forecaster_registry().entries())
        if (entry.key == key) return entry.make(context);
    FAIL("no forecaster " << key);
    return nullptr;
}

std::string fact(const Forecaster& f, const std::string& key) {
    for (const ForecasterFact& fact : f.facts())
        if (fact.key == key) return fact.value;
    FAIL(f.names().key << " has no fact " << key);
    return "";
}
double number(const Forecaster& f, const std::string& key) { return std::stod(fact(f, key)); }

// Uniform noise of standard deviation sigma.
float noise(Rng& rng, float sigma) { return rng.uniform(sigma * std::sqrt(3.0f)); }

// Steps d_{t+1} = sum_i a[i] ∘ d_{t-i} + c + noise (element-wise coefficients when a[i] has dim
// values, a matrix [dim, dim] when it has dim²), accumulated from x_0 = 0, after `burn_in` steps.
std::vector<float> ar_series(const std::vector<std::vector<double>>& a, const std::vector<double>& c, int64_t dim,
                             int64_t count, float sigma, uint64_t seed) {
    Rng rng(seed, RngStream::kInit);
    const int64_t lags = int64_t(a.size()), burn_in = 30;
    std::vector<std::vector<double>> steps(lags, std::vector<double>(dim, 0.0));  // newest first
    std::vector<float> series(count * dim, 0.0f);
    std::vector<double> x(dim, 0.0);
    for (int64_t t = 1 - burn_in; t < count; ++t) {
        std::vector<double> next(dim);
        for (int64_t j = 0; j < dim; ++j) {
            double v = c[j] + noise(rng, sigma);
            for (int64_t i = 0; i < lags; ++i) {
                if (int64_t(a[i].size()) == dim) {
                    v += a[i][j] * steps[i][j];
                } else {
                    for (int64_t m = 0; m < dim; ++m) v += a[i][j * dim + m] * steps[i][m];
                }
            }
            next[j] = v;
        }
        steps.insert(steps.begin(), next);
        steps.pop_back();
        if (t >= 1)
            for (int64_t j = 0; j < dim; ++j) x[j] += next[j];
        if (t >= 0)
            for (int64_t j = 0; j < dim; ++j) series[t * dim + j] = float(x[j]);
    }
    return series;
}

TEST_CASE("damped trend: phi by least squares on the train windows, the damped formula ahead", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 4, count = 16;
    std::vector<std::vector<float>> series;
    Rng rng(7, RngStream::kInit);
    for (int r = 0; r < 3; ++r) {
        std::vector<float> s(count * dim);
        for (int64_t j = 0; j < dim; ++j) {
            double x = rng.uniform(1.0f), step = rng.uniform(1.0f);
            for (int64_t t = 0; t < count; ++t) {
                s[t * dim + j] = float(x);
                x += 0.6 * step;
                step *= 0.6;
            }
        }
        series.push_back(s);
    }
    // Each step is 0.6 times the one before: x_{t+1} = x_t + 0.6 (x_t - x_{t-1}).
    const PredictorData data = make_data(series, dim, 12, 3, 0.25);
    std::unique_ptr<Forecaster> f = make("damped_trend", backend, data);
    CHECK(f->facts().empty());
    f->fit(data);
    CHECK(f->role() == ForecasterRole::kBaseline);
    CHECK(f->forecasts_weights());
    CHECK(number(*f, "phi") == Approx(0.6).margin(1e-3));
    CHECK(number(*f, "phi_weights") == Approx(0.6).margin(1e-3));

    // On a test window's history: x_t + phi d_t, then x_t + (phi + phi² + phi³) d_t.
    const float* run = data.scores[0].data();
    const int64_t length = 13;  // x_0 .. x_12
    const std::vector<float> next = f->predict({{run, length}, {run, 1}}, dim);
    const std::vector<float> path = f->forecast({run, length}, dim, 3);
    for (int64_t j = 0; j < dim; ++j) {
        const double x = run[12 * dim + j], d = x - run[11 * dim + j];
        CHECK(next[j] == Approx(x + 0.6 * d).margin(1e-6));
        CHECK(next[dim + j] == run[j]);  // one vector: the last value
        CHECK(path[2 * dim + j] == Approx(x + (0.6 + 0.36 + 0.216) * d).margin(1e-6));
        CHECK(path[2 * dim + j] == Approx(run[15 * dim + j]).margin(1e-5));  // the series itself
    }

    // A trend that grows (phi 1.5) is clipped to the linear extrapolation.
    std::vector<float> growing(count * dim);
    for (int64_t j = 0; j < dim; ++j)
        for (int64_t t = 0, step = 1, x = 0; t < count; ++t, x += step, step = step * 3 / 2 + 1) growing[t * dim + j] = float(x);
    const PredictorData grows = make_data({growing}, dim, 12, 2, 0.25);
    f->fit(grows);
    CHECK(number(*f, "phi") == 1.0);
}

TEST_CASE("smoothing: a straight line is extrapolated exactly (alpha 1, phi 1)", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 3, count = 20;
    std::vector<std::vector<float>> series;
    for (int r = 0; r < 2; ++r) {
        std::vector<float> s(count * dim);
        for (int64_t t = 0; t < count; ++t)
            for (int64_t j = 0; j < dim; ++j) s[t * dim + j] = float(5 * r + 2 * j - 3 + (j + 1 + r) * t);
        series.push_back(s);
    }
    const PredictorData data = make_data(series, dim, 15, 3, 0.3);
    std::unique_ptr<Forecaster> f = make("smoothing", backend, data);
    f->fit(data);
    CHECK(number(*f, "alpha") == 1.0);
    CHECK(number(*f, "phi") == 1.0);
    CHECK(number(*f, "alpha_weights") == 1.0);
    CHECK(number(*f, "phi_weights") == 1.0);
    CHECK(number(*f, "selection_mse") == 0.0);
    CHECK_THAT(fact(*f, "chosen_on"), Catch::StartsWith("validation"));
    const float* run = data.scores[1].data();
    const std::vector<float> path = f->forecast({run, 15}, dim, 5);
    for (int h = 0; h < 5; ++h)
        for (int64_t j = 0; j < dim; ++j) CHECK(path[h * dim + j] == run[(15 + h) * dim + j]);
    CHECK(f->predict({{run, 1}}, dim) == std::vector<float>(run, run + dim));  // no step: the last value
}

TEST_CASE("smoothing: noisy steps around a constant drift are smoothed (small alpha, phi near 1)", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 2, count = 120;
    Rng rng(11, RngStream::kInit);
    std::vector<std::vector<float>> series;
    for (int r = 0; r < 2; ++r) {
        std::vector<float> s(count * dim);
        for (int64_t j = 0; j < dim; ++j) {
            double x = 0;
            for (int64_t t = 0; t < count; ++t, x += 1.0 + noise(rng, 0.5)) s[t * dim + j] = float(x);
        }
        series.push_back(s);
    }
    const PredictorData data = make_data(series, dim, 100, 4, 0.5);
    std::unique_ptr<Forecaster> f = make("smoothing", backend, data);
    f->fit(data);
    const double alpha = number(*f, "alpha"), phi = number(*f, "phi");
    CHECK(alpha <= 0.3);
    CHECK(phi >= 0.8);
    // The forecast is the formula with the chosen pair: s over the whole history.
    const float* run = data.scores[0].data();
    const int64_t length = 90;
    const std::vector<float> path = f->forecast({run, length}, dim, 2);
    for (int64_t j = 0; j < dim; ++j) {
        double s = run[1 * dim + j] - run[j];
        for (int64_t i = 2; i < length; ++i) s = alpha * (run[i * dim + j] - run[(i - 1) * dim + j]) + (1 - alpha) * s;
        CHECK(path[j] == Approx(run[(length - 1) * dim + j] + phi * s).margin(1e-4));
        CHECK(path[dim + j] == Approx(run[(length - 1) * dim + j] + (phi + phi * phi) * s).margin(1e-4));
    }
}

// A_0 and A_1 [3, 3], c [3] of the AR tests.
const std::vector<double> kA0 = {0.5, 0.1, 0.0, 0.0, 0.4, -0.2, 0.1, 0.0, 0.3};
const std::vector<double> kA1 = {-0.2, 0.0, 0.1, 0.05, 0.2, 0.0, 0.0, -0.1, 0.2};
const std::vector<double> kC = {0.05, -0.02, 0.01};

TEST_CASE("ridge AR: an AR(2) of the steps is recovered, with a small lambda", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 3, count = 500;
    std::vector<std::vector<float>> series;
    for (int r = 0; r < 6; ++r) series.push_back(ar_series({kA0, kA1}, kC, dim, count, 0.1f, 100 + r));
    const PredictorData data = make_data(series, dim, 480, 3, 0.2);
    std::unique_ptr<Forecaster> f = make("ar", backend, data);
    CHECK(!f->forecasts_weights());
    f->fit(data);
    CHECK(fact(*f, "p") == "2");
    CHECK(f->min_history() == 3);
    CHECK(number(*f, "lambda_relative") <= 1e-2);
    CHECK_THAT(fact(*f, "chosen_on"), Catch::StartsWith("validation"));
    // Its coefficients, read off predictions: from a still history the step is c; a last step
    // e_m adds column m of A_0, a step e_m before it column m of A_1.
    const std::vector<float> still(9, 0.0f);
    const std::vector<float> bias = f->predict({{still.data(), 3}}, dim);
    for (int64_t j = 0; j < dim; ++j) CHECK(bias[j] == Approx(kC[j]).margin(0.02));
    for (int64_t m = 0; m < dim; ++m) {
        std::vector<float> last_step(9, 0.0f), earlier_step(9, 0.0f);
        last_step[2 * dim + m] = 1;
        earlier_step[dim + m] = earlier_step[2 * dim + m] = 1;
        const std::vector<float> a0 = f->predict({{last_step.data(), 3}}, dim);
        const std::vector<float> a1 = f->predict({{earlier_step.data(), 3}}, dim);
        for (int64_t j = 0; j < dim; ++j) {
            const double unit = j == m ? 1.0 : 0.0;
            CHECK(a0[j] - unit - bias[j] == Approx(kA0[j * dim + m]).margin(0.07));
            CHECK(a1[j] - unit - bias[j] == Approx(kA1[j * dim + m]).margin(0.07));
        }
    }
    // Further ahead, each prediction is fed back.
    const float* run = data.scores[0].data();
    const std::vector<float> path = f->forecast({run, 485}, dim, 2);
    std::vector<float> extended(run, run + 485 * dim);
    extended.insert(extended.end(), path.begin(), path.begin() + dim);
    const std::vector<float> second = f->predict({{extended.data(), 486}}, dim);
    for (int64_t j = 0; j < dim; ++j) CHECK(path[dim + j] == Approx(second[j]).margin(1e-6));
}

TEST_CASE("ridge AR: on steps that are pure noise the validation windows choose a large lambda", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 3, count = 120;
    const std::vector<double> zero(dim * dim, 0.0), drift = {0.3, -0.1, 0.2};
    const PredictorData data =
        make_data({ar_series({zero, zero}, drift, dim, count, 0.2f, 5)}, dim, 110, 3, 0.8);  // 21 train windows
    std::unique_ptr<Forecaster> f = make("ar", backend, data);
    f->fit(data);
    CHECK(number(*f, "lambda_relative") >= 1.0);
    // Near the drift: x_t + the mean train step, whatever the last steps were.
    std::vector<double> mean_step(dim, 0.0);
    for (const Window& w : data.train_windows)
        for (int64_t j = 0; j < dim; ++j)
            mean_step[j] += (data.scores[0][(w.first + 3) * dim + j] - data.scores[0][(w.first + 2) * dim + j]) /
                            double(data.train_windows.size());
    for (int64_t t : {20, 60, 100}) {
        const std::vector<float> next = f->predict({{data.scores[0].data(), t + 1}}, dim);
        for (int64_t j = 0; j < dim; ++j)
            CHECK(next[j] == Approx(data.scores[0][t * dim + j] + mean_step[j]).margin(0.03));
    }

    // Windows of one vector hold no step: the drift alone.
    const PredictorData single = make_data(data.scores, dim, 110, 1, 0.2);
    f->fit(single);
    CHECK(fact(*f, "p") == "0");
    CHECK(f->min_history() == 1);
    std::vector<double> single_mean(dim, 0.0);
    for (const Window& w : single.train_windows)
        for (int64_t j = 0; j < dim; ++j)
            single_mean[j] += (single.scores[0][(w.first + 1) * dim + j] - single.scores[0][w.first * dim + j]) /
                              double(single.train_windows.size());
    const std::vector<float> next = f->predict({{single.scores[0].data(), 1}}, dim);
    for (int64_t j = 0; j < dim; ++j) CHECK(next[j] == Approx(single.scores[0][j] + single_mean[j]).margin(1e-5));
}

TEST_CASE("AR per weight: each LeNet-5 layer's coefficients are recovered", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = LeNet5::kParameterCount, count = 20;
    // Per layer (conv1, conv2, fc1, fc2, fc3): a_0 and a_1.
    const std::vector<std::vector<double>> layer_coefficients = {{0.5, 0.2}, {-0.3, 0.1}, {0.8, -0.1}, {0.2, 0.5}, {0.0, -0.4}};
    std::vector<std::vector<double>> a(2, std::vector<double>(dim));
    int layer = -1;
    std::string name;
    for (const ParamEntry& e : LeNet5::layout().entries()) {
        const std::string this_layer = e.name.substr(0, e.name.find('.'));
        if (this_layer != name) ++layer;
        name = this_layer;
        for (int64_t j = e.offset; j < e.offset + e.shape.numel(); ++j)
            for (int i = 0; i < 2; ++i) a[i][j] = layer_coefficients[layer][i];
    }
    REQUIRE(layer == 4);
    const PredictorData data =
        make_data({ar_series(a, std::vector<double>(dim, 0.0), dim, count, 0.01f, 3)}, dim, 18, 3, 0.25);
    // The full AR has no place at this width: 2 x 61,706² coefficients.
    CHECK_THROWS_AS(make("ar", backend, data), UsageError);
    std::unique_ptr<Forecaster> f = make("ar_weight", backend, data);
    CHECK(f->forecasts_weights());
    f->fit(data);
    const char* layers[] = {"conv1", "conv2", "fc1", "fc2", "fc3"};
    for (int g = 0; g < 5; ++g) {
        INFO(layers[g] << ": " << fact(*f, std::string(layers[g]) + ".a"));
        CHECK(fact(*f, std::string(layers[g]) + ".p") == "2");
        std::istringstream coefficients(fact(*f, std::string(layers[g]) + ".a"));
        double a0 = 0, a1 = 0;
        coefficients >> a0 >> a1;
        const double margin = g == 0 ? 0.08 : 0.03;  // conv1 has 156 weights, the others thousands
        CHECK(a0 == Approx(layer_coefficients[g][0]).margin(margin));
        CHECK(a1 == Approx(layer_coefficients[g][1]).margin(margin));
    }
    // One step, and the multi-step forecast, in weight space.
    const float* run = data.runs.runs[0].vectors.data();
    const std::vector<float> next = f->predict({{run, 19}}, dim);
    const std::vector<float> path = f->forecast({run, 18}, dim, 2);
    std::vector<float> extended(run, run + 18 * dim);
    extended.insert(extended.end(), path.begin(), path.begin() + dim);
    const std::vector<float> second = f->predict({{extended.data(), 19}}, dim);
    double truth_error = 0, last_value_error = 0;
    for (int64_t j = 0; j < dim; ++j) {
        CHECK(path[dim + j] == second[j]);
        const double truth = run[19 * dim + j];
        truth_error += (next[j] - truth) * (next[j] - truth);
        last_value_error += (run[18 * dim + j] - truth) * (run[18 * dim + j] - truth);
    }
    CHECK(truth_error < 0.6 * last_value_error);
}

TEST_CASE("AR per weight: PCA histories are forecast in weight space and mapped back", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 6, count = 40, split = 32;
    const std::vector<double> a0(dim, 0.6), a1(dim, -0.2);
    std::vector<std::vector<float>> series = {ar_series({a0, a1}, std::vector<double>(dim, 0.1), dim, count, 0.1f, 9),
                                              ar_series({a0, a1}, std::vector<double>(dim, 0.1), dim, count, 0.1f, 10)};
    PredictorData data = make_data(series, dim, split, 3, 0.25);
    std::vector<float> train;
    for (const std::vector<float>& s : series) train.insert(train.end(), s.begin(), s.begin() + split * dim);
    data.space.use_pca = true;
    data.space.pca = fit_pca(train.data(), int64_t(train.size()) / dim, dim, 3);
    for (size_t r = 0; r < series.size(); ++r) data.scores[r] = data.model[r] = data.space.to_pca(backend, series[r].data(), count);
    std::unique_ptr<Forecaster> f = make("ar_weight", backend, data);
    f->fit(data);
    CHECK(fact(*f, "all.p") == "2");
    const std::vector<float>& scores = data.scores[1];
    const std::vector<float> raw = data.space.from_pca(backend, scores.data(), count);
    const std::vector<float> expected = data.space.to_pca(backend, f->predict({{raw.data(), 35}}, dim).data(), 1);
    const std::vector<float> next = f->predict({{scores.data(), 35}}, 3);
    const std::vector<float> expected_path = data.space.to_pca(backend, f->forecast({raw.data(), 35}, dim, 3).data(), 3);
    const std::vector<float> path = f->forecast({scores.data(), 35}, 3, 3);
    REQUIRE(next.size() == 3);
    REQUIRE(path.size() == 9);
    for (int i = 0; i < 3; ++i) CHECK(next[i] == Approx(expected[i]).margin(1e-5));
    for (int i = 0; i < 9; ++i) CHECK(path[i] == Approx(expected_path[i]).margin(1e-5));
    CHECK_THROWS(f->predict({{scores.data(), 35}}, 4));
}

TEST_CASE("no classical baseline reads a test window", "[classical]") {
    CpuBackend backend(1);
    const int64_t dim = 3, count = 60, split = 45;
    std::vector<std::vector<float>> series;
    for (int r = 0; r < 2; ++r) series.push_back(ar_series({kA0, kA1}, kC, dim, count, 0.1f, 40 + r));
    for (const double validation : {0.25, 0.0}) {
        const PredictorData clean = make_data(series, dim, split, 3, validation);
        PredictorData poisoned = clean;
        REQUIRE(!poisoned.test_windows.empty());
        for (size_t r = 0; r < series.size(); ++r)
            for (int64_t i = split * dim; i < count * dim; ++i)
                poisoned.scores[r][i] = poisoned.model[r][i] = poisoned.runs.runs[r].vectors[i] = NAN;
        for (const char* key : {"damped_trend", "smoothing", "ar", "ar_weight"}) {
            INFO(key << ", validation fraction " << validation);
            std::unique_ptr<Forecaster> on_clean = make(key, backend, clean), on_poisoned = make(key, backend, poisoned);
            on_clean->fit(clean);
            on_poisoned->fit(poisoned);
            const std::vector<ForecasterFact> facts = on_clean->facts(), poisoned_facts = on_poisoned->facts();
            REQUIRE(facts.size() == poisoned_facts.size());
            REQUIRE(!facts.empty());
            for (size_t i = 0; i < facts.size(); ++i) {
                CHECK(facts[i].key == poisoned_facts[i].key);
                CHECK(facts[i].value == poisoned_facts[i].value);
                CHECK(facts[i].value.find("nan") == std::string::npos);
                CHECK(facts[i].value.find("inf") == std::string::npos);
            }
            // A forecaster that chooses says where.
            if (std::string(key) != "damped_trend")
                CHECK_THAT(fact(*on_clean, "chosen_on"),
                           Catch::StartsWith(validation > 0 ? "validation" : "train (no validation windows)"));
            // Forecasts from the train part are finite.
            const std::vector<float> next = on_poisoned->predict({{poisoned.scores[0].data(), split}}, dim);
            for (float v : next) CHECK(std::isfinite(v));
        }
    }
}

std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST_CASE("the classical baselines run through the whole experiment", "[classical][pipeline]") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("twp_test_classical_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    Config config;
    config.training_epochs = 2;
    config.snapshots_per_epoch = 6;
    config.num_runs = 2;
    config.snapshot_dir = (dir / "snapshots").string();
    config.results_dir = (dir / "results").string();
    config.sequence_length = 3;
    config.apply_pca = true;
    config.n_components = 4;
    config.validation_fraction = 0.25;
    config.extrapolation_steps = 2;
    config.forecasters = {"last_value", "linear", "damped_trend", "smoothing", "ar", "ar_weight"};
    Inputs inputs;
    inputs.dataset.name = "mnist";
    inputs.dataset.train = test::synthetic_mnist(256, 31);
    inputs.dataset.test = test::synthetic_mnist(64, 32);
    CpuBackend backend(2);
    const ExperimentResults r = run_experiment(backend, config, make_plan(config), inputs, "test");
    REQUIRE(r.forecasters.size() == config.forecasters.size());
    REQUIRE(r.direct);
    const nlohmann::json j = nlohmann::json::parse(file_text(r.dir / "results.json"));
    for (size_t f = 0; f < config.forecasters.size(); ++f) {
        const std::string& key = config.forecasters[f];
        INFO(key);
        CHECK(r.forecasters[f].names.key == key);
        CHECK(std::isfinite(r.direct->forecasters[f].pca_mse));
        CHECK(std::isfinite(r.direct->forecasters[f].weight_mse));
        CHECK(j["direct_prediction"].contains(key));
        CHECK(j["extrapolation"].contains(key));
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twp
