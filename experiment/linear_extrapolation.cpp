// The "linear" baseline: the last step continued, x_{t+k} = x_t + k (x_t - x_{t-1}) (for k = 1,
// 2 x_t - x_{t-1}). A history of one vector has no step: it degrades to the last value. It needs
// no fit and forecasts the raw weights as well as PCA scores.
#include "experiment/forecaster.hpp"

namespace twp {
namespace {

class LinearExtrapolation final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"linear", "linear (2x_t - x_t-1)", "linear", "linear extrapolation"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    bool forecasts_weights() const override { return true; }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        std::vector<float> next(histories.size() * width);
        for (size_t i = 0; i < histories.size(); ++i) extend(histories[i], width, 1, next.data() + i * width);
        return next;
    }
    // In closed form rather than fed back: k steps of the same line.
    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        std::vector<float> path(size_t(steps) * width);
        for (int i = 0; i < steps; ++i) extend(history, width, i + 1, path.data() + i * width);
        return path;
    }

private:
    static void extend(const History& h, int64_t width, int steps_ahead, float* out) {
        const float* current = h.vectors + (h.length - 1) * width;
        const float* previous = h.length > 1 ? current - width : current;
        for (int64_t j = 0; j < width; ++j) out[j] = current[j] + float(steps_ahead) * (current[j] - previous[j]);
    }
};

}  // namespace

std::unique_ptr<Forecaster> make_linear_forecaster(const ForecasterContext&) {
    return std::make_unique<LinearExtrapolation>();
}

}  // namespace twp
