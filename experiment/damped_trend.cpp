// The "damped trend" baseline: the last step continued, damped, x_{t+1} = x_t + phi d_t with
// d_t = x_t - x_{t-1}, and h steps ahead x_{t+h} = x_t + (phi + phi^2 + ... + phi^h) d_t. phi = 0
// is the last value, phi = 1 the linear extrapolation.
//
// Fit: phi by least squares over the train windows' last steps, pooled over all components,
// phi = sum <d_{t+1}, d_t> / sum |d_t|^2 (t the window's last input), clipped to [0, 1]; d_t is the
// run's step into x_t, which a window of one vector does not hold but the history predict() gets
// does. Nothing is chosen, so the validation windows are not used. A rule on any series, it is
// fitted twice: on the PCA scores and on the raw weights, and predict() uses the phi of the width
// it is given (the two agree when the PCA keeps every dimension: a rotation preserves the sums).
// A history of one vector has no step: it degrades to the last value.
#include <algorithm>

#include "engine/error.hpp"
#include "experiment/classical.hpp"
#include "experiment/forecaster.hpp"

namespace twp {
namespace {

class DampedTrend final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"damped_trend", "damped trend (x_t + phi d_t)", "damped trend",
                                           "the damped trend"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    bool forecasts_weights() const override { return true; }

    void fit(const PredictorData& data) override {
        TWP_CHECK(!data.train_windows.empty(), "damped_trend: no train windows to fit phi on");
        dim_ = data.space.dim();
        raw_dim_ = data.space.raw_dim;
        std::vector<const float*> scores, weights;  // per run, [count, D] and [count, raw_dim]
        for (const std::vector<float>& s : data.scores) scores.push_back(s.data());
        for (const RunSnapshots& r : data.runs.runs) weights.push_back(r.vectors.data());
        phi_scores_ = fit_phi(scores, dim_, data, windows_);
        phi_weights_ = fit_phi(weights, raw_dim_, data, windows_);
        fitted_ = true;
    }
    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        return {{"phi", classical::fact_number(phi_scores_)},
                {"phi_weights", classical::fact_number(phi_weights_)},
                {"fitted_on", std::to_string(windows_) + " train windows"}};
    }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        std::vector<float> next(histories.size() * width);
        const double phi = phi_for(width);
        for (size_t i = 0; i < histories.size(); ++i) extend(histories[i], width, phi, next.data() + i * width);
        return next;
    }
    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        TWP_CHECK(history.length >= 1, "damped_trend: an empty history");
        const double phi = phi_for(width);
        std::vector<float> path(size_t(steps) * width);
        for (int h = 0; h < steps; ++h) extend(history, width, classical::damped_sum(phi, h + 1), path.data() + h * width);
        return path;
    }

private:
    // out = x_t + factor d_t.
    static void extend(const History& history, int64_t width, double factor, float* out) {
        TWP_CHECK(history.length >= 1, "damped_trend: an empty history");
        const float* current = history.vectors + (history.length - 1) * width;
        const float* previous = history.length > 1 ? current - width : current;
        for (int64_t j = 0; j < width; ++j)
            out[j] = float(double(current[j]) + factor * (double(current[j]) - double(previous[j])));
    }
    double phi_for(int64_t width) const {
        TWP_CHECK(fitted_, "damped_trend predicts before its fit");
        if (width == dim_) return phi_scores_;
        if (width == raw_dim_) return phi_weights_;
        TWP_FAIL("damped_trend: a history of width " << width << ", fitted on " << dim_ << " (PCA) and " << raw_dim_
                                                     << " (weights)");
    }
    // The pooled least-squares phi of runs (per run, [count, width]) over the train windows;
    // `windows` receives how many had a step into their last input.
    static double fit_phi(const std::vector<const float*>& runs, int64_t width, const PredictorData& data,
                          int64_t& windows) {
        const int64_t k = data.sequence_length;
        std::vector<double> step(width), next_step(width);
        double cross = 0, square = 0;
        windows = 0;
        for (const Window& w : data.train_windows) {
            const int64_t t = w.first + k - 1;  // the window's last input
            if (t < 1) continue;                // no step into x_0
            classical::delta(runs[w.run_index], width, t, step.data());
            classical::delta(runs[w.run_index], width, t + 1, next_step.data());
            for (int64_t j = 0; j < width; ++j) {
                cross += next_step[j] * step[j];
                square += step[j] * step[j];
            }
            ++windows;
        }
        // No step anywhere (a constant series): any phi fits; 0 repeats the last value.
        return square > 0 ? std::clamp(cross / square, 0.0, 1.0) : 0.0;
    }

    bool fitted_ = false;
    int64_t dim_ = 0, raw_dim_ = 0, windows_ = 0;
    double phi_scores_ = 0, phi_weights_ = 0;
};

}  // namespace

std::unique_ptr<Forecaster> make_damped_trend_forecaster(const ForecasterContext&) {
    return std::make_unique<DampedTrend>();
}

}  // namespace twp
