// Direct, multi-step and plug-in evaluation; see evaluation.hpp.
#include "experiment/evaluation.hpp"

#include <cmath>

namespace twp {
namespace {

double mse(const float* a, const float* b, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double diff = double(a[i]) - double(b[i]);
        sum += diff * diff;
    }
    return sum / double(n);
}

// The baselines from the last two known vectors (rows of width d): last value and linear.
void baselines(const float* previous, const float* current, int64_t d, int64_t steps_ahead, float* last,
               float* linear) {
    for (int64_t j = 0; j < d; ++j) {
        last[j] = current[j];
        linear[j] = current[j] + float(steps_ahead) * (current[j] - previous[j]);
    }
}

}  // namespace

DirectEvaluation evaluate_direct(Predictor& predictor, const PredictorData& data) {
    const int64_t s = predictor.config().sequence_length, d = data.space.dim(), raw_dim = data.space.raw_dim;
    const WeightRuns& runs = *data.runs;
    const std::vector<Window>& windows = data.test_windows;
    const int64_t count = int64_t(windows.size());
    std::vector<float> inputs(count * s * d);
    for (int64_t i = 0; i < count; ++i) {
        const float* run = data.scores[windows[i].run_index].data();
        std::copy(run + windows[i].first * d, run + (windows[i].first + s) * d, inputs.begin() + i * s * d);
    }
    const std::vector<float> predicted = predictor.predict(inputs, count);
    const std::vector<float> predicted_raw = data.space.from_pca(predictor.backend(), predicted.data(), count);

    DirectEvaluation result;
    result.windows = count;
    const size_t n_runs = runs.runs.size();
    std::vector<std::vector<double>> pca_sum(3, std::vector<double>(n_runs)), raw_sum = pca_sum;
    std::vector<int64_t> per_run(n_runs, 0);
    std::vector<float> last(d), linear(d), last_raw(raw_dim), linear_raw(raw_dim);
    for (int64_t i = 0; i < count; ++i) {
        const Window& w = windows[i];
        const RunSnapshots& run = runs.runs[w.run_index];
        const int64_t t = w.first + s - 1;  // the last input
        const float* scores = data.scores[w.run_index].data();
        const float* target = scores + (t + 1) * d;
        const float* target_raw = run.vectors.data() + (t + 1) * raw_dim;
        // The previous snapshot of a run's first window is itself: the linear baseline degrades to last value.
        const int64_t previous = t > 0 ? t - 1 : t;
        baselines(scores + previous * d, scores + t * d, d, 1, last.data(), linear.data());
        baselines(run.vectors.data() + previous * raw_dim, run.vectors.data() + t * raw_dim, raw_dim, 1,
                  last_raw.data(), linear_raw.data());
        const float* pca_predictions[3] = {predicted.data() + i * d, last.data(), linear.data()};
        const float* raw_predictions[3] = {predicted_raw.data() + i * raw_dim, last_raw.data(), linear_raw.data()};
        for (int m = 0; m < 3; ++m) {
            pca_sum[m][w.run_index] += mse(pca_predictions[m], target, d);
            raw_sum[m][w.run_index] += mse(raw_predictions[m], target_raw, raw_dim);
        }
        ++per_run[w.run_index];
    }
    for (int m = 0; m < 3; ++m) {
        MethodError e;
        double pca_total = 0, raw_total = 0;
        for (size_t r = 0; r < n_runs; ++r) {
            pca_total += pca_sum[m][r];
            raw_total += raw_sum[m][r];
            e.per_run_pca.push_back(per_run[r] ? pca_sum[m][r] / double(per_run[r]) : NAN);
            e.per_run_weight.push_back(per_run[r] ? raw_sum[m][r] / double(per_run[r]) : NAN);
        }
        e.pca_mse = pca_total / double(count);
        e.weight_mse = raw_total / double(count);
        result.methods.push_back(e);
    }
    return result;
}

Extrapolation extrapolate(Predictor& predictor, const PredictorData& data, int steps) {
    const int64_t s = predictor.config().sequence_length, d = data.space.dim(), raw_dim = data.space.raw_dim;
    const WeightRuns& runs = *data.runs;
    Extrapolation result;
    result.pca_mse.assign(3, std::vector<double>(steps, 0.0));
    result.weight_mse = result.pca_mse;
    result.runs_per_step.assign(3, std::vector<int>(steps, 0));
    for (int r = 0; r < int(runs.runs.size()); ++r) {
        const RunSnapshots& run = runs.runs[r];
        const float* scores = data.scores[r].data();
        const int64_t start = run.split + s;  // the first target
        const int run_steps = int(std::min<int64_t>(steps, run.count - start));
        if (run_steps <= 0) continue;
        Extrapolation::RunPath path;
        path.run_index = r;
        path.start = start;
        path.steps = run_steps;
        path.predicted.assign(3, std::vector<float>(run_steps * d));
        // The transformer, autoregressively: each prediction joins the window.
        std::vector<float> window(scores + run.split * d, scores + start * d);
        for (int i = 0; i < run_steps; ++i) {
            const std::vector<float> next = predictor.predict(window, 1);
            std::copy(next.begin(), next.end(), path.predicted[0].begin() + i * d);
            window.erase(window.begin(), window.begin() + d);
            window.insert(window.end(), next.begin(), next.end());
        }
        const int64_t t = start - 1, previous = t > 0 ? t - 1 : t;
        for (int i = 0; i < run_steps; ++i)
            baselines(scores + previous * d, scores + t * d, d, i + 1, &path.predicted[1][i * d],
                      &path.predicted[2][i * d]);
        std::vector<float> last_raw(raw_dim), linear_raw(raw_dim);
        const std::vector<float> transformer_path = data.space.from_pca(predictor.backend(), path.predicted[0].data(), run_steps);
        for (int i = 0; i < run_steps; ++i) {
            const float* target = scores + (start + i) * d;
            const float* target_raw = run.vectors.data() + (start + i) * raw_dim;
            baselines(run.vectors.data() + previous * raw_dim, run.vectors.data() + t * raw_dim, raw_dim, i + 1,
                      last_raw.data(), linear_raw.data());
            const float* raw[3] = {transformer_path.data() + i * raw_dim, last_raw.data(), linear_raw.data()};
            for (int m = 0; m < 3; ++m) {
                result.pca_mse[m][i] += mse(&path.predicted[m][i * d], target, d);
                result.weight_mse[m][i] += mse(raw[m], target_raw, raw_dim);
                ++result.runs_per_step[m][i];
            }
        }
        result.steps = std::max(result.steps, run_steps);
        result.paths.push_back(std::move(path));
    }
    for (int m = 0; m < 3; ++m)
        for (int i = 0; i < steps; ++i) {
            const int n = result.runs_per_step[m][i];
            result.pca_mse[m][i] = n ? result.pca_mse[m][i] / n : NAN;
            result.weight_mse[m][i] = n ? result.weight_mse[m][i] / n : NAN;
        }
    for (auto* table : {&result.pca_mse, &result.weight_mse})
        for (auto& row : *table) row.resize(result.steps);
    for (auto& row : result.runs_per_step) row.resize(result.steps);
    return result;
}

PluginEvaluation plugin_test(Backend& backend, const ImageSet& test_set, const PredictorData& data,
                             const Extrapolation& extrapolation) {
    const int64_t d = data.space.dim(), raw_dim = data.space.raw_dim;
    TWP_CHECK(raw_dim == LeNet5::kParameterCount,
              "the plug-in test puts weights into LeNet-5 (" << LeNet5::kParameterCount << " of them); these snapshots have "
                                                             << raw_dim);
    const WeightRuns& runs = *data.runs;
    PluginEvaluation result;
    result.series = {"transformer", "last_value", "linear", "true_snapshot", "true_pca_round_trip"};
    const int steps = extrapolation.steps;
    result.accuracy.assign(result.series.size(), std::vector<double>(steps, 0.0));
    result.per_run.assign(result.series.size(),
                          std::vector<std::vector<double>>(runs.runs.size(), std::vector<double>(steps, NAN)));
    std::vector<int> counts(steps, 0);

    const DeviceImageSet test(backend, test_set);
    LeNet5 model(backend, 1000);
    const auto accuracy = [&](const float* weights) {
        model.parameters().upload(weights, LeNet5::kParameterCount);
        return evaluate(backend, model, test, 1000).accuracy;
    };
    for (const Extrapolation::RunPath& path : extrapolation.paths) {
        const RunSnapshots& run = runs.runs[path.run_index];
        const int64_t t = path.start - 1, previous = t > 0 ? t - 1 : t;
        std::vector<float> last_raw(raw_dim), linear_raw(raw_dim);
        // Whole paths through the PCA at once: one transform per run, not one per step.
        const std::vector<float> transformer_path = data.space.from_pca(backend, path.predicted[0].data(), path.steps);
        const std::vector<float> round_trip_path =
            data.space.from_pca(backend, data.scores[path.run_index].data() + path.start * d, path.steps);
        for (int i = 0; i < path.steps; ++i) {
            const float* true_raw = run.vectors.data() + (path.start + i) * raw_dim;
            baselines(run.vectors.data() + previous * raw_dim, run.vectors.data() + t * raw_dim, raw_dim, i + 1,
                      last_raw.data(), linear_raw.data());
            const float* weights[5] = {transformer_path.data() + i * raw_dim, last_raw.data(), linear_raw.data(), true_raw,
                                       round_trip_path.data() + i * raw_dim};
            for (size_t series = 0; series < 5; ++series) {
                const double a = accuracy(weights[series]);
                result.per_run[series][path.run_index][i] = a;
                result.accuracy[series][i] += a;
            }
            ++counts[i];
        }
    }
    for (auto& row : result.accuracy)
        for (int i = 0; i < steps; ++i) row[i] = counts[i] ? row[i] / counts[i] : NAN;
    return result;
}

}  // namespace twp
