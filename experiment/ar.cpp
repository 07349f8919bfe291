// The "ridge AR" baseline: a linear autoregressive model of the steps in PCA space,
//   d_{t+1} = sum_{i=0}^{p-1} A_i d_{t-i} + c,   x_{t+1} = x_t + d_{t+1},
// with d_t = x_t - x_{t-1}, full D x D matrices A_i (W = [A_0 .. A_{p-1}]ᵀ, [pD, D]) and a bias c
// [D]. The p lags come from the window (a window of k vectors holds k - 1 steps), so
// 1 <= p <= k - 1; with k = 1 there is no lag and the model is the drift alone, c = the mean train
// step. Forecasts further ahead feed each prediction back (Forecaster::forecast).
//
// Fit, in double: ridge least squares over the train windows on centred data, so the bias is not
// penalized: (Xcᵀ Xc + lambda I) W = Xcᵀ Yc, c = mean(Y) - mean(X) W (classical::ridge_solve,
// in its dual form while there are fewer windows than pD). p (1 .. k - 1) and lambda (10^-6 ..
// 10^3 times trace(Xcᵀ Xc) / pD, by half decades) are chosen on the one-step MSE of the validation
// windows (the train windows when there are none). PCA scores only: its weights are its
// scores mapped back.
#include <algorithm>
#include <string>
#include <utility>

#include "engine/error.hpp"
#include "experiment/config.hpp"
#include "experiment/classical.hpp"
#include "experiment/forecaster.hpp"

namespace twp {
namespace {

// d_{t+1} = c + sum_i A_i d_{t-i}.
struct ArModel {
    int64_t lags = 0;
    std::vector<double> weights;  // [lags * D, D]: row lag * D + c holds A_lag[:, c]ᵀ
    std::vector<double> bias;     // [D], c

    // step[D] = c + xᵀ W for x[lags * D].
    void next_step(const double* x, int64_t d, double* step) const {
        for (int64_t j = 0; j < d; ++j) step[j] = bias[j];
        for (int64_t c = 0; c < lags * d; ++c)
            for (int64_t j = 0; j < d; ++j) step[j] += x[c] * weights[c * d + j];
    }
};

// x[n, p D] = the windows' last p steps (d_t, d_{t-1}, ...), y[n, D] = their next steps d_{t+1}.
void features(const PredictorData& data, const std::vector<Window>& windows, int64_t p, std::vector<double>& x,
              std::vector<double>& y) {
    const int64_t d = data.space.dim(), k = data.sequence_length;
    x.assign(windows.size() * p * d, 0.0);
    y.assign(windows.size() * d, 0.0);
    for (size_t i = 0; i < windows.size(); ++i) {
        const float* run = data.scores[windows[i].run_index].data();
        const int64_t t = windows[i].first + k - 1;
        for (int64_t lag = 0; lag < p; ++lag) classical::delta(run, d, t - lag, x.data() + (i * p + lag) * d);
        classical::delta(run, d, t + 1, y.data() + i * d);
    }
}

// The one-step MSE of `model` over `windows` (per component).
double one_step_mse(const ArModel& model, const PredictorData& data, const std::vector<Window>& windows) {
    const int64_t d = data.space.dim();
    std::vector<double> x, y, step(d);
    features(data, windows, model.lags, x, y);
    double sum = 0;
    for (size_t i = 0; i < windows.size(); ++i) {
        model.next_step(x.data() + i * model.lags * d, d, step.data());
        for (int64_t j = 0; j < d; ++j) sum += (y[i * d + j] - step[j]) * (y[i * d + j] - step[j]);
    }
    return sum / double(int64_t(windows.size()) * d);
}

// The ridge fit with p lags on the train windows for each lambda of the grid, each offered to
// `consider(model, lambda, relative lambda)`.
template <typename Consider>
void fit_lags(const PredictorData& data, int64_t p, Consider consider) {
    const int64_t d = data.space.dim(), cols = p * d, n = int64_t(data.train_windows.size());
    std::vector<double> x, y;
    features(data, data.train_windows, p, x, y);
    // Centre, so that the bias is the means' and goes unpenalized.
    std::vector<double> x_mean(cols, 0.0), y_mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < cols; ++c) x_mean[c] += x[i * cols + c] / double(n);
        for (int64_t j = 0; j < d; ++j) y_mean[j] += y[i * d + j] / double(n);
    }
    double trace = 0;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < cols; ++c) {
            x[i * cols + c] -= x_mean[c];
            trace += x[i * cols + c] * x[i * cols + c];
        }
        for (int64_t j = 0; j < d; ++j) y[i * d + j] -= y_mean[j];
    }
    // A series without steps (trace 0) fits W = 0 at any lambda; any scale will do.
    const double scale = trace > 0 ? trace / double(cols) : 1.0;
    for (const double relative : classical::ridge_relative_lambdas()) {
        ArModel model;
        model.lags = p;
        model.weights = classical::ridge_solve(x, y, n, cols, d, relative * scale);
        model.bias = y_mean;
        for (int64_t c = 0; c < cols; ++c)
            for (int64_t j = 0; j < d; ++j) model.bias[j] -= x_mean[c] * model.weights[c * d + j];
        consider(std::move(model), relative * scale, relative);
    }
}

class RidgeAr final : public Forecaster {
public:
    const ForecasterNames& names() const override {
        static const ForecasterNames names{"ar", "ridge AR on deltas (PCA)", "ridge AR", "the ridge AR model"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    int64_t min_history() const override { return model_.lags + 1; }

    void fit(const PredictorData& data) override {
        const std::vector<Window>& selection = classical::selection_windows(data, chosen_on_);
        dim_ = data.space.dim();
        const int64_t d = dim_, max_lags = data.sequence_length - 1;
        train_windows_ = int64_t(data.train_windows.size());
        selection_windows_ = int64_t(selection.size());
        if (max_lags == 0) {
            // No step inside a window of one vector: the drift alone, the mean train step.
            std::vector<double> x, y;
            features(data, data.train_windows, 0, x, y);
            model_ = ArModel{0, {}, std::vector<double>(d, 0.0)};
            for (int64_t i = 0; i < train_windows_; ++i)
                for (int64_t j = 0; j < d; ++j) model_.bias[j] += y[i * d + j] / double(train_windows_);
            lambda_ = relative_lambda_ = 0;
            selection_mse_ = one_step_mse(model_, data, selection);
            fitted_ = true;
            return;
        }
        bool first = true;
        for (int64_t p = 1; p <= max_lags; ++p)
            fit_lags(data, p, [&](ArModel model, double lambda, double relative) {
                const double error = one_step_mse(model, data, selection);
                if (!first && !(error < selection_mse_)) return;
                first = false;
                model_ = std::move(model);
                selection_mse_ = error;
                lambda_ = lambda;
                relative_lambda_ = relative;
            });
        fitted_ = true;
    }
    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        std::vector<ForecasterFact> f = {{"p", std::to_string(model_.lags)}};
        if (model_.lags == 0) {
            f.push_back({"model", "drift (windows of one vector hold no step)"});
        } else {
            f.push_back({"lambda", classical::fact_number(lambda_)});
            f.push_back({"lambda_relative", classical::fact_number(relative_lambda_)});
        }
        f.push_back({"fitted_on", std::to_string(train_windows_) + " train windows"});
        f.push_back({"chosen_on", chosen_on_ + ", " + std::to_string(selection_windows_) + " windows"});
        f.push_back({"selection_mse", classical::fact_number(selection_mse_)});
        return f;
    }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        TWP_CHECK(fitted_, "ar predicts before its fit");
        TWP_CHECK(width == dim_, "ar forecasts PCA scores of width " << dim_ << ", not width " << width);
        const int64_t d = dim_, lags = model_.lags;
        std::vector<float> next(histories.size() * d);
        std::vector<double> x(lags * d), step(d);
        for (size_t i = 0; i < histories.size(); ++i) {
            const History& h = histories[i];
            TWP_CHECK(h.length >= lags + 1, "ar: a history of " << h.length << " vectors, " << lags + 1 << " needed");
            const int64_t t = h.length - 1;
            for (int64_t lag = 0; lag < lags; ++lag) classical::delta(h.vectors, d, t - lag, x.data() + lag * d);
            model_.next_step(x.data(), d, step.data());
            for (int64_t j = 0; j < d; ++j) next[i * d + j] = float(double(h.vectors[t * d + j]) + step[j]);
        }
        return next;
    }

private:
    bool fitted_ = false;
    int64_t dim_ = 0, train_windows_ = 0, selection_windows_ = 0;
    ArModel model_;
    double lambda_ = 0, relative_lambda_ = 0, selection_mse_ = 0;
    std::string chosen_on_;
};

}  // namespace

// Full D x D matrices are for PCA scores: without PCA (D = 61,706) they would not fit in memory.
constexpr double kMaxCoefficients = double(1 << 25);  // 256 MiB of doubles

std::unique_ptr<Forecaster> make_ar_forecaster(const ForecasterContext& context) {
    const double d = double(context.data.space.dim()), lags = double(std::max<int64_t>(context.data.sequence_length - 1, 1));
    if (lags * d * d > kMaxCoefficients)
        throw UsageError("--forecasters ar: a full AR on " + std::to_string(int64_t(d)) + " dimensions with " +
                         std::to_string(int64_t(lags)) + " lags has " + std::to_string(int64_t(lags * d * d)) +
                         " coefficients; give --apply_pca with fewer components, or use ar_weight");
    return std::make_unique<RidgeAr>();
}

}  // namespace twp
