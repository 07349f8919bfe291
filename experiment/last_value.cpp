// The "last value" baseline: the next vector is the current one, x_{t+k} = x_t. It needs no fit
// and forecasts the raw weights as well as PCA scores ("repeat the last snapshot").
#include <algorithm>

#include "experiment/forecaster.hpp"

namespace twp {
namespace {

class LastValue final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"last_value", "last value (x_t)", "last value", "last value"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    bool forecasts_weights() const override { return true; }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        std::vector<float> next(histories.size() * width);
        for (size_t i = 0; i < histories.size(); ++i) {
            const float* current = histories[i].vectors + (histories[i].length - 1) * width;
            std::copy(current, current + width, next.begin() + i * width);
        }
        return next;
    }
    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        std::vector<float> path;
        for (int i = 0; i < steps; ++i) {
            const std::vector<float> next = predict({history}, width);
            path.insert(path.end(), next.begin(), next.end());
        }
        return path;
    }
};

}  // namespace

std::unique_ptr<Forecaster> make_last_value_forecaster(const ForecasterContext&) { return std::make_unique<LastValue>(); }

}  // namespace twp
