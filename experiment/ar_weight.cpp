// The "AR per weight" baseline: a linear autoregressive model of each weight's steps, with scalar
// coefficients shared by the weights of one LeNet-5 layer (conv1, conv2, fc1, fc2, fc3: weight and
// bias together, experiment/lenet5.cpp's layout; all weights one group when the snapshots are not
// LeNet-5's 61,706):
//   d_{t+1}[j] = sum_{i=0}^{p_g-1} a_{g,i} d_{t-i}[j]  for each weight j of group g,
// x_{t+1} = x_t + d_{t+1}, d_t = x_t - x_{t-1}. No bias: a drift per weight is the ridge AR's
// business. The p_g lags come from the window, 1 <= p_g <= k - 1; with k = 1 there is no lag and it
// is the last value.
//
// Fit, in double, per group: ridge least squares over the train windows' raw weights,
// (G + lambda I) a = b with G = sum f fᵀ, b = sum f y over the windows and the group's weights
// (f the lags, y the next step); p_g (1 .. k - 1) and lambda (10^-6 .. 10^3 times trace(G) / p_g,
// by half decades) chosen per group on the weight-space one-step MSE over the validation windows
// (the train windows when there are none), which the group's sums give in closed form:
// |y - fᵀa|² summed = yy - 2 aᵀ b_v + aᵀ G_v a. One pass over each window's 61,706 weights.
//
// It forecasts the raw weights directly; PCA scores are mapped to weights through the feature
// space (the last p + 1 vectors of a history), forecast there and mapped back.
#include <algorithm>
#include <string>

#include "engine/error.hpp"
#include "experiment/classical.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/lenet5.hpp"

namespace twp {
namespace {

// Weights [begin, end) of the flat vector, one coefficient set.
struct WeightGroup {
    std::string name;
    int64_t begin = 0, end = 0;
    int64_t lags = 0;
    std::vector<double> coefficients;  // [lags], a_{g,i}
    double lambda = 0, relative_lambda = 0;
};

// LeNet-5's layers (consecutive layout entries sharing the name before the '.'), or one group.
std::vector<WeightGroup> weight_groups(int64_t raw_dim) {
    std::vector<WeightGroup> groups;
    if (raw_dim != LeNet5::kParameterCount) {
        groups.push_back({"all", 0, raw_dim, 0, {}, 0, 0});
        return groups;
    }
    for (const ParamEntry& e : LeNet5::layout().entries()) {
        const std::string layer = e.name.substr(0, e.name.find('.'));
        if (groups.empty() || groups.back().name != layer) groups.push_back({layer, e.offset, e.offset, 0, {}, 0, 0});
        groups.back().end = e.offset + e.shape.numel();
    }
    TWP_CHECK(groups.back().end == raw_dim, "the LeNet-5 layout covers " << groups.back().end << " of " << raw_dim);
    return groups;
}

// A group's sums over windows: gram[P, P] = sum f fᵀ, cross[P] = sum f y, square = sum y².
struct GroupSums {
    std::vector<double> gram, cross;
    double square = 0;
};

// The sums of every group over `windows` with the full max_lags lags (a smaller p takes the
// leading block: every window holds all k - 1 steps).
std::vector<GroupSums> group_sums(const PredictorData& data, const std::vector<Window>& windows,
                                  const std::vector<WeightGroup>& groups, int64_t max_lags) {
    const int64_t width = data.space.raw_dim, k = data.sequence_length, lags = max_lags;
    std::vector<GroupSums> sums(groups.size());
    for (GroupSums& s : sums) {
        s.gram.assign(lags * lags, 0.0);
        s.cross.assign(lags, 0.0);
    }
    std::vector<double> steps((lags + 1) * width);  // [lags + 1, width]: d_{t+1}, d_t, ..., d_{t-lags+1}
    for (const Window& w : windows) {
        const float* run = data.runs.runs[w.run_index].vectors.data();
        const int64_t t = w.first + k - 1;
        for (int64_t i = 0; i <= lags; ++i) classical::delta(run, width, t + 1 - i, steps.data() + i * width);
        for (size_t g = 0; g < groups.size(); ++g) {
            GroupSums& s = sums[g];
            const double* y = steps.data();
            for (int64_t a = 0; a < lags; ++a) {
                const double* fa = steps.data() + (a + 1) * width;
                double cross = 0;
                for (int64_t j = groups[g].begin; j < groups[g].end; ++j) cross += fa[j] * y[j];
                s.cross[a] += cross;
                for (int64_t b = 0; b <= a; ++b) {
                    const double* fb = steps.data() + (b + 1) * width;
                    double gram = 0;
                    for (int64_t j = groups[g].begin; j < groups[g].end; ++j) gram += fa[j] * fb[j];
                    s.gram[a * lags + b] += gram;
                    if (b != a) s.gram[b * lags + a] += gram;
                }
            }
            double square = 0;
            for (int64_t j = groups[g].begin; j < groups[g].end; ++j) square += y[j] * y[j];
            s.square += square;
        }
    }
    return sums;
}

class WeightAr final : public Forecaster {
public:
    WeightAr(Backend& backend, const FeatureSpace& space) : backend_(backend), space_(space) {}

    const ForecasterNames& names() const override {
        static const ForecasterNames names{"ar_weight", "ridge AR on deltas (per weight)", "AR per weight",
                                           "the per-weight AR model"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kBaseline; }
    bool forecasts_weights() const override { return true; }
    int64_t min_history() const override { return max_lags_ + 1; }

    void fit(const PredictorData& data) override {
        const std::vector<Window>& selection = classical::selection_windows(data, chosen_on_);
        raw_dim_ = data.space.raw_dim;
        dim_ = data.space.dim();
        TWP_CHECK(raw_dim_ == data.runs.dim && raw_dim_ == space_.raw_dim,
                  "ar_weight: snapshots of " << data.runs.dim << " weights, a feature space of " << raw_dim_);
        TWP_CHECK(!data.space.use_pca || dim_ != raw_dim_,
                  "ar_weight cannot tell PCA scores from weights when the PCA keeps all " << raw_dim_ << " dimensions");
        groups_ = weight_groups(raw_dim_);
        train_windows_ = int64_t(data.train_windows.size());
        selection_windows_ = int64_t(selection.size());
        const int64_t max_lags = data.sequence_length - 1;
        double selection_error = 0;  // summed over groups, windows and weights
        if (max_lags > 0) {
            const std::vector<GroupSums> train = group_sums(data, data.train_windows, groups_, max_lags);
            const std::vector<GroupSums> chosen_on = group_sums(data, selection, groups_, max_lags);
            for (size_t g = 0; g < groups_.size(); ++g)
                selection_error += choose(train[g], chosen_on[g], max_lags, groups_[g]);
        } else {
            // No step inside a window of one vector: the last value.
            const std::vector<GroupSums> chosen_on = group_sums(data, selection, groups_, 0);
            for (const GroupSums& s : chosen_on) selection_error += s.square;
        }
        max_lags_ = 0;
        for (const WeightGroup& g : groups_) max_lags_ = std::max(max_lags_, g.lags);
        selection_mse_ = selection_error / double(selection_windows_ * raw_dim_);
        fitted_ = true;
    }
    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        std::vector<ForecasterFact> f;
        for (const WeightGroup& g : groups_) {
            std::string coefficients;
            for (double a : g.coefficients) {
                if (!coefficients.empty()) coefficients += ' ';
                coefficients += classical::fact_number(a);
            }
            f.push_back({g.name + ".p", std::to_string(g.lags)});
            if (g.lags == 0) continue;
            f.push_back({g.name + ".a", coefficients});
            f.push_back({g.name + ".lambda", classical::fact_number(g.lambda)});
            f.push_back({g.name + ".lambda_relative", classical::fact_number(g.relative_lambda)});
        }
        f.push_back({"fitted_on", std::to_string(train_windows_) + " train windows"});
        f.push_back({"chosen_on", chosen_on_ + ", " + std::to_string(selection_windows_) + " windows"});
        f.push_back({"selection_weight_mse", classical::fact_number(selection_mse_)});
        return f;
    }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        std::vector<float> next;
        next.reserve(histories.size() * width);
        // In chunks: a PCA history's last vectors become 61,706-wide weights.
        constexpr size_t kChunk = 32;
        for (size_t begin = 0; begin < histories.size(); begin += kChunk) {
            const size_t end = std::min(histories.size(), begin + kChunk);
            std::vector<float> recent = recent_weights(histories, begin, end, width);  // [n, L, raw_dim]
            const int64_t rows = max_lags_ + 1;
            std::vector<float> predicted((end - begin) * raw_dim_);
            for (size_t i = 0; i < end - begin; ++i)
                step(recent.data() + i * rows * raw_dim_, predicted.data() + i * raw_dim_);
            if (width != raw_dim_) predicted = space_.to_pca(backend_, predicted.data(), int64_t(end - begin));
            next.insert(next.end(), predicted.begin(), predicted.end());
        }
        return next;
    }
    // In weight space throughout, mapped to PCA scores once at the end for a PCA history.
    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        const int64_t rows = max_lags_ + 1;
        std::vector<float> series = recent_weights({history}, 0, 1, width);  // [L, raw_dim], then the path
        series.resize((rows + steps) * raw_dim_);
        for (int h = 0; h < steps; ++h) step(series.data() + h * raw_dim_, series.data() + (rows + h) * raw_dim_);
        std::vector<float> path(series.begin() + rows * raw_dim_, series.end());
        if (width != raw_dim_) path = space_.to_pca(backend_, path.data(), steps);
        return path;
    }

private:
    // Chooses p and lambda for group g on the selection sums; returns its selection squared error.
    static double choose(const GroupSums& train, const GroupSums& selection, int64_t max_lags, WeightGroup& g) {
        bool first = true;
        double best = selection.square;
        for (int64_t p = 1; p <= max_lags; ++p) {
            double trace = 0;
            for (int64_t a = 0; a < p; ++a) trace += train.gram[a * max_lags + a];
            const double scale = trace > 0 ? trace / double(p) : 1.0;
            for (const double relative : classical::ridge_relative_lambdas()) {
                std::vector<double> system(p * p), a(p);
                for (int64_t r = 0; r < p; ++r) {
                    for (int64_t c = 0; c < p; ++c) system[r * p + c] = train.gram[r * max_lags + c];
                    system[r * p + r] += relative * scale;
                    a[r] = train.cross[r];
                }
                TWP_CHECK(classical::cholesky_solve(p, system.data(), a.data(), 1),
                          "ar_weight: the regularized Gram matrix of " << g.name << " is not positive definite");
                double error = selection.square;
                for (int64_t r = 0; r < p; ++r) {
                    error -= 2 * a[r] * selection.cross[r];
                    for (int64_t c = 0; c < p; ++c) error += a[r] * selection.gram[r * max_lags + c] * a[c];
                }
                if (!first && !(error < best)) continue;
                first = false;
                best = error;
                g.lags = p;
                g.coefficients = a;
                g.lambda = relative * scale;
                g.relative_lambda = relative;
            }
        }
        return std::max(best, 0.0);
    }
    // The last max_lags + 1 vectors of histories [begin, end) as weights: [n, max_lags + 1, raw_dim].
    std::vector<float> recent_weights(const std::vector<History>& histories, size_t begin, size_t end,
                                      int64_t width) const {
        TWP_CHECK(fitted_, "ar_weight predicts before its fit");
        TWP_CHECK(width == raw_dim_ || width == dim_,
                  "ar_weight: a history of width " << width << ", fitted on " << raw_dim_ << " weights (PCA " << dim_ << ")");
        const int64_t rows = max_lags_ + 1;
        std::vector<float> recent;
        recent.reserve((end - begin) * rows * width);
        for (size_t i = begin; i < end; ++i) {
            const History& h = histories[i];
            TWP_CHECK(h.length >= rows, "ar_weight: a history of " << h.length << " vectors, " << rows << " needed");
            recent.insert(recent.end(), h.vectors + (h.length - rows) * width, h.vectors + h.length * width);
        }
        if (width == raw_dim_) return recent;
        return space_.from_pca(backend_, recent.data(), int64_t(end - begin) * rows);
    }
    // next[raw_dim] after recent[max_lags + 1, raw_dim] (oldest first).
    void step(const float* recent, float* next) const {
        const float* current = recent + max_lags_ * raw_dim_;
        for (const WeightGroup& g : groups_)
            for (int64_t j = g.begin; j < g.end; ++j) {
                double value = current[j];
                for (int64_t i = 0; i < g.lags; ++i) {
                    const float* x = current - i * raw_dim_;
                    value += g.coefficients[i] * (double(x[j]) - double(x[j - raw_dim_]));
                }
                next[j] = float(value);
            }
    }

    Backend& backend_;
    const FeatureSpace& space_;  // the experiment's, for PCA histories
    bool fitted_ = false;
    int64_t dim_ = 0, raw_dim_ = 0, max_lags_ = 0, train_windows_ = 0, selection_windows_ = 0;
    std::vector<WeightGroup> groups_;
    double selection_mse_ = 0;
    std::string chosen_on_;
};

}  // namespace

std::unique_ptr<Forecaster> make_ar_weight_forecaster(const ForecasterContext& context) {
    return std::make_unique<WeightAr>(context.backend, context.data.space);
}

}  // namespace twp
