// Direct, multi-step and plug-in evaluation over the forecaster list; see evaluation.hpp.
#include "experiment/evaluation.hpp"

#include <algorithm>
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

// The mean of each of `count` groups of `samples` rows of `dim`: [count, dim].
std::vector<float> draw_means(const std::vector<float>& draws, int64_t count, int64_t samples, int64_t dim) {
    std::vector<float> mean(count * dim);
    for (int64_t i = 0; i < count; ++i)
        for (int64_t c = 0; c < dim; ++c) {
            double sum = 0;
            for (int64_t k = 0; k < samples; ++k) sum += draws[(i * samples + k) * dim + c];
            mean[i * dim + c] = float(sum / double(samples));
        }
    return mean;
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
    std::vector<std::vector<float>> draws(n);
    for (size_t f = 0; f < n; ++f) {
        if (const int64_t samples = forecasters[f]->samples(); samples > 0) {
            // The point forecast is the draws' mean (as the forecaster's own predict()).
            draws[f] = forecasters[f]->sample(scores_history, d);
            predicted[f] = draw_means(draws[f], count, samples, d);
        } else {
            predicted[f] = forecasters[f]->predict(scores_history, d);
        }
        predicted_weights[f] = forecasters[f]->forecasts_weights()
                                   ? forecasters[f]->predict(weights_history, raw_dim)
                                   : data.space.from_pca(backend, predicted[f].data(), count);
    }

    DirectEvaluation result;
    result.windows = count;
    result.tested = windows;
    result.draws = std::move(draws);
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
            if (const int64_t samples = forecaster.samples(); samples > 0) {
                // The path is the mean of the sample paths (as the forecaster's own forecast()).
                path.sampled.push_back(forecaster.sample_paths({scores, start}, d, run_steps));
                path.predicted.push_back(draw_means(path.sampled.back(), 1, samples, run_steps * d));
            } else {
                path.sampled.emplace_back();
                path.predicted.push_back(forecaster.forecast({scores, start}, d, run_steps));
            }
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

PluginEvaluation plugin_test(Backend& backend, Forecasters& forecasters, const ImageSet& test_set,
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

    // Every draw of every sampling forecaster's paths, in weight space.
    for (size_t f = 0; f < n; ++f) {
        const int64_t samples = forecasters[f]->samples();
        if (samples <= 0) continue;
        PluginEvaluation::DrawAccuracy a;
        a.key = forecasters[f]->names().key;
        a.samples = samples;
        std::vector<std::vector<double>> scored(steps), within(steps);
        for (const Extrapolation::RunPath& path : extrapolation.paths) {
            const RunSnapshots& run = data.runs.runs[path.run_index];
            const std::vector<float> paths = forecasters[f]->sample_paths({run.vectors.data(), path.start}, raw_dim, path.steps);
            for (int i = 0; i < path.steps; ++i) {
                const double truth = result.per_run[n][path.run_index][i];
                for (int64_t k = 0; k < samples; ++k) {
                    const double accuracy_k = accuracy(paths.data() + (k * path.steps + i) * raw_dim);
                    scored[i].push_back(accuracy_k);
                    within[i].push_back(std::fabs(accuracy_k - truth) <= 0.5 ? 1.0 : 0.0);
                }
            }
        }
        for (int i = 0; i < steps; ++i) {
            const std::vector<double>& v = scored[i];
            double sum = 0, sum_sq = 0, inside = 0;
            for (size_t j = 0; j < v.size(); ++j) {
                sum += v[j];
                sum_sq += v[j] * v[j];
                inside += within[i][j];
            }
            const double count = double(v.size()), mean = count ? sum / count : NAN;
            a.mean.push_back(mean);
            a.sd.push_back(count > 1 ? std::sqrt(std::max(sum_sq - count * mean * mean, 0.0) / (count - 1)) : NAN);
            a.min.push_back(v.empty() ? NAN : *std::min_element(v.begin(), v.end()));
            a.max.push_back(v.empty() ? NAN : *std::max_element(v.begin(), v.end()));
            a.within.push_back(count ? inside / count : NAN);
        }
        result.draws.push_back(std::move(a));
    }
    return result;
}

SpreadEvaluation evaluate_spread(const Forecasters& forecasters, const PredictorData& data, const DirectEvaluation& direct) {
    const int64_t d = data.space.dim(), s = data.sequence_length, count = direct.windows;
    std::vector<float> truth(count * d), last(count * d);
    for (int64_t i = 0; i < count; ++i) {
        const Window& w = direct.tested[i];
        const float* z = data.scores[w.run_index].data() + (w.first + s - 1) * d;
        std::copy(z, z + d, last.begin() + i * d);
        std::copy(z + d, z + 2 * d, truth.begin() + i * d);
    }
    // Every train snapshot (the ones the PCA and the fits saw), for the memorization check.
    std::vector<float> training;
    for (size_t r = 0; r < data.runs.runs.size(); ++r)
        training.insert(training.end(), data.scores[r].begin(), data.scores[r].begin() + data.runs.runs[r].train_end * d);
    SpreadEvaluation result;
    for (size_t f = 0; f < forecasters.size(); ++f) {
        const int64_t samples = forecasters[f]->samples();
        if (samples <= 0) continue;
        SpreadEvaluation::Entry e;
        e.key = forecasters[f]->names().key;
        e.samples = samples;
        e.score = score_draws(direct.draws[f].data(), truth.data(), count, samples, d);
        if (!training.empty()) e.memorization = memorization(direct.draws[f].data(), truth.data(), count, samples, d, training);
        result.entries.push_back(std::move(e));
    }
    // The Gaussian baseline: last value, with the RMS of the train windows' next steps per component.
    std::vector<double> sum(d, 0.0);
    for (const Window& w : data.train_windows) {
        const float* z = data.scores[w.run_index].data() + (w.first + s - 1) * d;
        for (int64_t c = 0; c < d; ++c) sum[c] += (double(z[d + c]) - z[c]) * (double(z[d + c]) - z[c]);
    }
    for (int64_t c = 0; c < d; ++c)
        result.gaussian_sd.push_back(data.train_windows.empty() ? 0 : std::sqrt(sum[c] / double(data.train_windows.size())));
    SpreadEvaluation::Entry g;
    g.key = "gaussian";
    g.score = score_gaussian(last.data(), result.gaussian_sd, truth.data(), count, d);
    result.entries.push_back(std::move(g));
    return result;
}

}  // namespace twp
