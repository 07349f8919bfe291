// The "smoothing" baseline: Holt's damped trend with the level pinned to the last value. The
// trend is the exponentially smoothed step over the whole history x_0 .. x_t (the run so far):
// s_1 = d_1, s_i = alpha d_i + (1 - alpha) s_{i-1} with d_i = x_i - x_{i-1}, and the forecast is
// x_{t+h} = x_t + (phi + phi^2 + ... + phi^h) s_t. alpha = 1 is the damped trend of the last step;
// phi = 0 the last value. A history of one vector has no step: s = 0, the last value.
//
// Fit: nothing is learned beyond alpha and phi, so the fit is their choice, by grid search
// (alpha in 0.1, 0.2, ..., 1; phi in 0, 0.1, ..., 1) on the one-step MSE over the validation
// windows (the train windows when there are none), each window's history being its run up to the
// window's last input, as in the evaluation. Ties (within 1e-9 of the last value's error) go to
// the larger alpha, then the larger phi. A rule on any series, it is chosen twice: on the PCA
// scores and on the raw weights, and predict() uses the pair of the width it is given.
#include <algorithm>
#include <map>

#include "engine/error.hpp"
#include "experiment/classical.hpp"
#include "experiment/forecaster.hpp"

namespace twp {
namespace {

struct SmoothingChoice {
    double alpha = 1, phi = 0;
    double mse = 0;  // one-step, per component, over the windows chosen on
};

class Smoothing final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"smoothing", "smoothing (x_t + phi s_t)", "smoothing",
                                           "exponential smoothing"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    bool forecasts_weights() const override { return true; }

    void fit(const PredictorData& data) override {
        const std::vector<Window>& windows = classical::selection_windows(data, chosen_on_);
        dim_ = data.space.dim();
        raw_dim_ = data.space.raw_dim;
        std::vector<const float*> scores, weights;  // per run, [count, D] and [count, raw_dim]
        for (const std::vector<float>& s : data.scores) scores.push_back(s.data());
        for (const RunSnapshots& r : data.runs.runs) weights.push_back(r.vectors.data());
        on_scores_ = choose(scores, dim_, windows, data.sequence_length);
        on_weights_ = choose(weights, raw_dim_, windows, data.sequence_length);
        windows_ = int64_t(windows.size());
        fitted_ = true;
    }
    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        return {{"alpha", classical::fact_number(on_scores_.alpha)},
                {"phi", classical::fact_number(on_scores_.phi)},
                {"alpha_weights", classical::fact_number(on_weights_.alpha)},
                {"phi_weights", classical::fact_number(on_weights_.phi)},
                {"chosen_on", chosen_on_ + ", " + std::to_string(windows_) + " windows"},
                {"selection_mse", classical::fact_number(on_scores_.mse)}};
    }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        const SmoothingChoice& c = choice_for(width);
        std::vector<float> next(histories.size() * width);
        std::vector<double> trend(width);
        for (size_t i = 0; i < histories.size(); ++i) {
            smoothed_step(histories[i], width, c.alpha, trend.data());
            extend(histories[i], width, trend.data(), c.phi, next.data() + i * width);
        }
        return next;
    }
    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        const SmoothingChoice& c = choice_for(width);
        std::vector<double> trend(width);
        smoothed_step(history, width, c.alpha, trend.data());
        std::vector<float> path(size_t(steps) * width);
        for (int h = 0; h < steps; ++h)
            extend(history, width, trend.data(), classical::damped_sum(c.phi, h + 1), path.data() + h * width);
        return path;
    }

private:
    const SmoothingChoice& choice_for(int64_t width) const {
        TWP_CHECK(fitted_, "smoothing predicts before its fit");
        if (width == dim_) return on_scores_;
        if (width == raw_dim_) return on_weights_;
        TWP_FAIL("smoothing: a history of width " << width << ", fitted on " << dim_ << " (PCA) and " << raw_dim_
                                                  << " (weights)");
    }
    // trend[width] = s_t over the whole history (0 without a step).
    static void smoothed_step(const History& h, int64_t width, double alpha, double* trend) {
        TWP_CHECK(h.length >= 1, "smoothing: an empty history");
        std::fill(trend, trend + width, 0.0);
        for (int64_t i = 1; i < h.length; ++i) {
            const float* current = h.vectors + i * width;
            const double weight = i == 1 ? 1.0 : alpha;
            for (int64_t j = 0; j < width; ++j)
                trend[j] += weight * ((double(current[j]) - double(current[j - width])) - trend[j]);
        }
    }
    // out = x_t + factor trend.
    static void extend(const History& h, int64_t width, const double* trend, double factor, float* out) {
        const float* current = h.vectors + (h.length - 1) * width;
        for (int64_t j = 0; j < width; ++j) out[j] = float(double(current[j]) + factor * trend[j]);
    }

    // The grid search on runs (per run, [count, width]). For each alpha, one scan of each run up
    // to its last window gives, summed over the windows, A = sum <y, s_t>, B = sum |s_t|^2 and
    // C = sum |y|^2 (y = x_{t+1} - x_t), and the squared error of any phi is C - 2 phi A + phi^2 B:
    // 10 scans instead of 110, which matters at 61,706 weights.
    static SmoothingChoice choose(const std::vector<const float*>& runs, int64_t width,
                                  const std::vector<Window>& windows, int64_t k) {
        constexpr int kAlphas = 10;  // alpha = a / 10, a = 1 .. 10
        std::map<int, std::vector<int64_t>> ends;  // run -> the windows' last inputs t
        for (const Window& w : windows) ends[w.run_index].push_back(w.first + k - 1);
        std::vector<double> a_sum(kAlphas + 1, 0.0), b_sum(kAlphas + 1, 0.0);
        double c_sum = 0;
        std::vector<double> trend((kAlphas + 1) * width), step(width), next_step(width);
        for (auto& [run, ts] : ends) {
            std::sort(ts.begin(), ts.end());
            std::fill(trend.begin(), trend.end(), 0.0);
            size_t at = 0;
            for (int64_t t = 0; t <= ts.back(); ++t) {
                if (t >= 1) {
                    classical::delta(runs[run], width, t, step.data());
                    for (int a = 1; a <= kAlphas; ++a) {
                        const double weight = t == 1 ? 1.0 : a / double(kAlphas);
                        double* s = trend.data() + a * width;
                        for (int64_t j = 0; j < width; ++j) s[j] += weight * (step[j] - s[j]);
                    }
                }
                for (; at < ts.size() && ts[at] == t; ++at) {
                    classical::delta(runs[run], width, t + 1, next_step.data());
                    for (int64_t j = 0; j < width; ++j) c_sum += next_step[j] * next_step[j];
                    for (int a = 1; a <= kAlphas; ++a) {
                        const double* s = trend.data() + a * width;
                        for (int64_t j = 0; j < width; ++j) {
                            a_sum[a] += next_step[j] * s[j];
                            b_sum[a] += s[j] * s[j];
                        }
                    }
                }
            }
        }
        SmoothingChoice best;
        double best_error = 0;
        bool first = true;
        const double tie = 1e-9 * c_sum;
        for (int a = kAlphas; a >= 1; --a)
            for (int p = 10; p >= 0; --p) {
                const double phi = p / 10.0;
                const double error = c_sum - 2 * phi * a_sum[a] + phi * phi * b_sum[a];
                if (first || error < best_error - tie) {
                    first = false;
                    best_error = error;
                    best.alpha = a / double(kAlphas);
                    best.phi = phi;
                }
            }
        best.mse = std::max(best_error, 0.0) / double(int64_t(windows.size()) * width);
        return best;
    }

    bool fitted_ = false;
    int64_t dim_ = 0, raw_dim_ = 0, windows_ = 0;
    SmoothingChoice on_scores_, on_weights_;
    std::string chosen_on_;
};

}  // namespace

std::unique_ptr<Forecaster> make_smoothing_forecaster(const ForecasterContext&) {
    return std::make_unique<Smoothing>();
}

}  // namespace twp
