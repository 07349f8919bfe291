// Direct, multi-step and plug-in evaluation over the forecaster list; see evaluation.hpp.
#include "experiment/evaluation.hpp"

#include <cmath>

#include "engine/error.hpp"

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

}  // namespace

DirectEvaluation evaluate_direct(Backend& backend, Forecasters& forecasters, const PredictorData& data) {
    const int64_t s = data.sequence_length, d = data.space.dim(), raw_dim = data.space.raw_dim;
    const std::vector<Window>& windows = data.test_windows;
    const int64_t count = int64_t(windows.size());
    const size_t n_runs = data.runs.runs.size(), n = forecasters.size();
    // Each window's history: its run up to the window's last input t = first + s - 1.
    std::vector<History> scores_history, weights_history;
    for (const Window& w : windows) {
        const int64_t length = w.first + s;
        scores_history.push_back({data.scores[w.run_index].data(), length});
        weights_history.push_back({data.runs.runs[w.run_index].vectors.data(), length});
    }
    std::vector<std::vector<float>> predicted(n), predicted_weights(n);  // [forecaster], [count, D | raw_dim]
    for (size_t f = 0; f < n; ++f) {
        predicted[f] = forecasters[f]->predict(scores_history, d);
        predicted_weights[f] = forecasters[f]->forecasts_weights()
                                   ? forecasters[f]->predict(weights_history, raw_dim)
                                   : data.space.from_pca(backend, predicted[f].data(), count);
    }

    DirectEvaluation result;
    result.windows = count;
    result.tested = windows;
    result.forecasters.resize(n);
    for (ForecastError& e : result.forecasters) {
        e.per_window_pca.resize(count);
        e.per_window_weight.resize(count);
    }
    std::vector<std::vector<double>> pca_sum(n, std::vector<double>(n_runs)), raw_sum = pca_sum;
    std::vector<int64_t> per_run(n_runs, 0);
    for (int64_t i = 0; i < count; ++i) {
        const Window& w = windows[i];
        const int64_t next = w.first + s;
        const float* target = data.scores[w.run_index].data() + next * d;
        const float* target_raw = data.runs.runs[w.run_index].vectors.data() + next * raw_dim;
        for (size_t f = 0; f < n; ++f) {
            const double pca = mse(predicted[f].data() + i * d, target, d);
            const double raw = mse(predicted_weights[f].data() + i * raw_dim, target_raw, raw_dim);
            pca_sum[f][w.run_index] += pca;
            raw_sum[f][w.run_index] += raw;
            result.forecasters[f].per_window_pca[i] = pca;
            result.forecasters[f].per_window_weight[i] = raw;
        }
        ++per_run[w.run_index];
    }
    for (size_t f = 0; f < n; ++f) {
        ForecastError& e = result.forecasters[f];
        double pca_total = 0, raw_total = 0;
        for (size_t r = 0; r < n_runs; ++r) {
            pca_total += pca_sum[f][r];
            raw_total += raw_sum[f][r];
            e.per_run_pca.push_back(per_run[r] ? pca_sum[f][r] / double(per_run[r]) : NAN);
            e.per_run_weight.push_back(per_run[r] ? raw_sum[f][r] / double(per_run[r]) : NAN);
        }
        e.pca_mse = pca_total / double(count);
        e.weight_mse = raw_total / double(count);
    }
    return result;
}

Extrapolation extrapolate(Backend& backend, Forecasters& forecasters, const PredictorData& data, int steps) {
    const int64_t s = data.sequence_length, d = data.space.dim(), raw_dim = data.space.raw_dim;
    const size_t n = forecasters.size();
    Extrapolation result;
    result.pca_mse.assign(n, std::vector<double>(steps, 0.0));
    result.weight_mse = result.pca_mse;
    result.runs_per_step.assign(n, std::vector<int>(steps, 0));
    for (int r = 0; r < int(data.runs.runs.size()); ++r) {
        const RunSnapshots& run = data.runs.runs[r];
        if (run.test_begin >= run.count) continue;  // a train run of the runs split
        const float* scores = data.scores[r].data();
        const int64_t start = run.split + s;  // the first target
        const int run_steps = int(std::min<int64_t>(steps, run.count - start));
        if (run_steps <= 0) continue;
        Extrapolation::RunPath path;
        path.run_index = r;
        path.start = start;
        path.steps = run_steps;
        for (size_t f = 0; f < n; ++f) {
            Forecaster& forecaster = *forecasters[f];
            path.predicted.push_back(forecaster.forecast({scores, start}, d, run_steps));
            path.predicted_weights.push_back(forecaster.forecasts_weights()
                                                 ? forecaster.forecast({run.vectors.data(), start}, raw_dim, run_steps)
                                                 : data.space.from_pca(backend, path.predicted[f].data(), run_steps));
        }
        for (int i = 0; i < run_steps; ++i) {
            const float* target = scores + (start + i) * d;
            const float* target_raw = run.vectors.data() + (start + i) * raw_dim;
            for (size_t f = 0; f < n; ++f) {
                result.pca_mse[f][i] += mse(&path.predicted[f][i * d], target, d);
                result.weight_mse[f][i] += mse(&path.predicted_weights[f][i * raw_dim], target_raw, raw_dim);
                ++result.runs_per_step[f][i];
            }
        }
        result.steps = std::max(result.steps, run_steps);
        result.paths.push_back(std::move(path));
    }
    for (size_t f = 0; f < n; ++f)
        for (int i = 0; i < steps; ++i) {
            const int runs = result.runs_per_step[f][i];
            result.pca_mse[f][i] = runs ? result.pca_mse[f][i] / runs : NAN;
            result.weight_mse[f][i] = runs ? result.weight_mse[f][i] / runs : NAN;
        }
    for (auto* table : {&result.pca_mse, &result.weight_mse})
        for (auto& row : *table) row.resize(result.steps);
    for (auto& row : result.runs_per_step) row.resize(result.steps);
    return result;
}

PluginEvaluation plugin_test(Backend& backend, const Forecasters& forecasters, const ImageSet& test_set,
                             const PredictorData& data, const Extrapolation& extrapolation) {
    const int64_t d = data.space.dim(), raw_dim = data.space.raw_dim;
    TWP_CHECK(raw_dim == LeNet5::kParameterCount,
              "the plug-in test puts weights into LeNet-5 (" << LeNet5::kParameterCount << " of them); these snapshots have "
                                                             << raw_dim);
    PluginEvaluation result;
    for (const auto& f : forecasters) result.series.push_back(f->names().key);
    result.series.push_back("true_snapshot");
    result.series.push_back("true_pca_round_trip");
    const size_t n = forecasters.size(), n_series = result.series.size();
    const int steps = extrapolation.steps;
    result.accuracy.assign(n_series, std::vector<double>(steps, 0.0));
    result.per_run.assign(n_series, std::vector<std::vector<double>>(data.runs.runs.size(), std::vector<double>(steps, NAN)));
    std::vector<int> counts(steps, 0);

    const DeviceImageSet test(backend, test_set);
    LeNet5 model(backend, 1000);
    const auto accuracy = [&](const float* weights) {
        model.parameters().upload(weights, LeNet5::kParameterCount);
        return evaluate(backend, model, test, 1000).accuracy;
    };
    for (const Extrapolation::RunPath& path : extrapolation.paths) {
        const RunSnapshots& run = data.runs.runs[path.run_index];
        // The whole path through the PCA at once: one transform per run, not one per step.
        const std::vector<float> round_trip_path =
            data.space.from_pca(backend, data.scores[path.run_index].data() + path.start * d, path.steps);
        for (int i = 0; i < path.steps; ++i) {
            std::vector<const float*> weights;
            for (size_t f = 0; f < n; ++f) weights.push_back(path.predicted_weights[f].data() + i * raw_dim);
            weights.push_back(run.vectors.data() + (path.start + i) * raw_dim);
            weights.push_back(round_trip_path.data() + i * raw_dim);
            for (size_t series = 0; series < n_series; ++series) {
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
