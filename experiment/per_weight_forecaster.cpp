// The per-weight MLP forecaster (WNN / NiNo style); see per_weight_forecaster.hpp for the
// features, the normalization and the training recipe.
#include "experiment/per_weight_forecaster.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"
#include "experiment/config.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/numbers.hpp"
#include "experiment/per_weight_mlp.hpp"

namespace twp {
namespace {

using Clock = std::chrono::steady_clock;

// One window: its k snapshots [k, raw_dim], consecutive in memory (a run's storage, or weights the
// PCA mapped back), and each group's scale s_g with its inverse (both 0 for a frozen group).
struct ScaledWindow {
    const float* snapshots = nullptr;   // [k, raw_dim]
    std::vector<float> scale, inverse;  // [G]
};

// Every (window, weight) sample of a list of windows, window-major (row w * raw_dim + j), in the
// backend's memory: the model's input rows and their targets (the next step, normalized).
struct SampleTable {
    int64_t rows = 0;
    Buffer<float> features;  // [rows, F]
    Buffer<float> targets;   // [rows, 1]
};

class PerWeightForecaster final : public Forecaster {
public:
    PerWeightForecaster(const ForecasterContext& context, ParamLayout groups, const PerWeightOptions& options)
        : backend_(context.backend), space_(context.data.space), groups_(std::move(groups)), options_(options),
          seed_(context.config.random_seed), k_(context.data.sequence_length), raw_dim_(context.data.space.raw_dim),
          group_count_(int64_t(groups_.entries().size())), features_(k_ - 1 + group_count_),
          rows_(std::max(options.batch_size, options.inference_rows)), model_(backend_, features_, options.hidden, rows_),
          inputs_(backend_, rows_ * features_), targets_(backend_, options.batch_size),
          dpred_(backend_, options.batch_size), adam_m_(backend_, model_.layout().total()),
          adam_v_(backend_, model_.layout().total()), host_inputs_(rows_ * features_),
          rows_buffer_(backend_, options.batch_size), host_rows_(options.batch_size), group_of_(raw_dim_) {
        for (int64_t g = 0; g < group_count_; ++g) {
            const ParamEntry& e = groups_.entries()[g];
            std::fill(group_of_.begin() + e.offset, group_of_.begin() + e.offset + e.shape.numel(), int32_t(g));
        }
        model_.initialize(seed_);
    }

    const ForecasterNames& names() const override {
        // The summary writes "the " before a learned forecaster's noun ("the per-weight MLP BEATS ...").
        static const ForecasterNames names{"per_weight", "per-weight MLP (WNN/NiNo style)", "per-weight MLP",
                                           "per-weight MLP"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kLearned; }
    bool forecasts_weights() const override { return true; }
    int64_t min_history() const override { return k_; }

    void fit(const PredictorData& data) override {
        const Clock::time_point start = Clock::now();
        TWP_CHECK(data.space.raw_dim == raw_dim_ && data.sequence_length == k_,
                  "the per-weight MLP was made for windows of " << k_ << " vectors of " << raw_dim_ << " weights, fitted on "
                                                                << data.sequence_length << " of " << data.space.raw_dim);
        TWP_CHECK(!data.train_windows.empty(), "the per-weight MLP has no train window to learn from");
        const std::vector<ScaledWindow> train = run_windows(data, data.train_windows);
        const std::vector<ScaledWindow> validation = run_windows(data, data.validation_windows);
        const SampleTable train_table = sample_table(train), validation_table = sample_table(validation);
        model_.initialize(seed_);
        backend_.fill(adam_m_.view(), 0.0f);
        backend_.fill(adam_v_.view(), 0.0f);
        Rng sampler(seed_, RngStream::kShuffle);
        const AdamConfig adam{options_.learning_rate, 0.9f, 0.999f, 1e-8f};

        // Step 0 is the untrained model, which predicts the last value: the best is never worse
        // than that on the validation windows.
        std::vector<float> best_parameters = model_.parameters().download();
        best_step_ = 0;
        last_value_mse_ = validation_mse_ = validation.empty() ? NAN : validation_mse(validation, validation_table);
        for (int64_t step = 1; step <= options_.steps; ++step) {
            train_step(train_table, sampler, step, adam);
            if (validation.empty() || (step % options_.validate_every != 0 && step != options_.steps)) continue;
            const double mse = validation_mse(validation, validation_table);
            if (!std::isfinite(mse))
                TWP_FAIL("per-weight MLP: the validation MSE became " << number_text(mse) << " after step " << step
                         << " of " << options_.steps << ": the optimization diverged (learning rate "
                         << float_text(options_.learning_rate) << ")");
            if (mse < validation_mse_) {
                validation_mse_ = mse;
                best_step_ = step;
                best_parameters = model_.parameters().download();
            }
        }
        if (validation.empty())
            best_step_ = options_.steps;  // nothing to choose on: the last parameters
        else
            model_.parameters().upload(best_parameters);
        fitted_ = true;
        train_windows_ = int64_t(train.size());
        validation_windows_ = int64_t(validation.size());
        seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
        std::fprintf(stderr,
                     "twp: per-weight MLP: %lld parameters, %lld train and %lld validation windows x %lld weights, "
                     "%lld steps of %lld samples; best step %lld, validation weight MSE %.6g (last value %.6g), %.1f s\n",
                     static_cast<long long>(model_.layout().total()), static_cast<long long>(train_windows_),
                     static_cast<long long>(validation_windows_), static_cast<long long>(raw_dim_),
                     static_cast<long long>(options_.steps), static_cast<long long>(options_.batch_size),
                     static_cast<long long>(best_step_), validation_mse_, last_value_mse_, seconds_);
    }

    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        const auto mse_text = [&](double mse) {
            return validation_windows_ ? number_text(mse, "%.6g") : std::string("none (no validation window)");
        };
        return {{"best_step", std::to_string(best_step_)},
                {"steps", std::to_string(options_.steps)},
                {"validation_weight_mse", mse_text(validation_mse_)},
                {"validation_weight_mse_last_value", mse_text(last_value_mse_)},
                {"parameters", std::to_string(model_.layout().total())},
                {"hidden", std::to_string(options_.hidden)},
                {"groups", std::to_string(group_count_)},
                {"train_samples", std::to_string(train_windows_ * raw_dim_)},
                {"seconds", number_text(seconds_, "%.2f")}};
    }

    // Before fit, the untrained model: the last value.
    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        const int64_t n = int64_t(histories.size());
        for (const History& h : histories)
            TWP_CHECK(h.length >= k_, "the per-weight MLP needs " << k_ << " vectors of history, got " << h.length);
        std::vector<ScaledWindow> windows;
        if (width == raw_dim_) {
            for (const History& h : histories) windows.push_back(scaled(h.vectors + (h.length - k_) * raw_dim_));
            return next_weights(windows);
        }
        TWP_CHECK(space_.use_pca && width == space_.dim(),
                  "the per-weight MLP forecasts vectors of " << raw_dim_ << " weights"
                      << (space_.use_pca ? " or " + std::to_string(space_.dim()) + " PCA scores" : std::string())
                      << ", asked for vectors of " << width);
        // The last k scores of each history, as weights.
        std::vector<float> scores(n * k_ * width);
        for (int64_t i = 0; i < n; ++i) {
            const History& h = histories[i];
            std::copy(h.vectors + (h.length - k_) * width, h.vectors + h.length * width, scores.begin() + i * k_ * width);
        }
        const std::vector<float> weights = space_.from_pca(backend_, scores.data(), n * k_);
        for (int64_t i = 0; i < n; ++i) windows.push_back(scaled(weights.data() + i * k_ * raw_dim_));
        const std::vector<float> next = next_weights(windows);
        return space_.to_pca(backend_, next.data(), n);
    }

private:
    // The scales of the window whose k snapshots start at `snapshots`.
    ScaledWindow scaled(const float* snapshots) const {
        ScaledWindow w{snapshots, std::vector<float>(group_count_), std::vector<float>(group_count_)};
        for (int64_t g = 0; g < group_count_; ++g) {
            const ParamEntry& e = groups_.entries()[g];
            // The RMS of steps [first_step, k - 1) over the group.
            const auto rms = [&](int64_t first_step) {
                double sum = 0;
                for (int64_t i = first_step; i + 1 < k_; ++i) {
                    const float* from = snapshots + i * raw_dim_ + e.offset;
                    const float* to = from + raw_dim_;
                    for (int64_t j = 0; j < e.shape.numel(); ++j) {
                        const float step = to[j] - from[j];
                        sum += double(step) * double(step);
                    }
                }
                return std::sqrt(sum / double(e.shape.numel() * (k_ - 1 - first_step)));
            };
            double s = rms(k_ - 2);
            if (s == 0) s = rms(0);
            const float scale = float(s);
            w.scale[g] = std::isnormal(scale) ? scale : 0.0f;
            w.inverse[g] = std::isnormal(scale) ? 1.0f / scale : 0.0f;
        }
        return w;
    }

    // The train or validation windows of `data` with their scales (pointing into the runs' storage).
    std::vector<ScaledWindow> run_windows(const PredictorData& data, const std::vector<Window>& list) const {
        std::vector<ScaledWindow> windows;
        for (const Window& w : list) windows.push_back(scaled(data.runs.runs[w.run_index].vectors.data() + w.first * raw_dim_));
        return windows;
    }

    // Weight j's row of the model's input for window w: [F].
    void fill_row(const ScaledWindow& w, int64_t j, float* row) const {
        const int32_t g = group_of_[j];
        const float inverse = w.inverse[g];
        for (int64_t i = 0; i + 1 < k_; ++i)
            row[i] = (w.snapshots[(i + 1) * raw_dim_ + j] - w.snapshots[i * raw_dim_ + j]) * inverse;
        std::fill(row + k_ - 1, row + features_, 0.0f);
        row[k_ - 1 + g] = 1.0f;
    }

    // The samples of `windows` (their targets follow them in the run's storage) as a table.
    SampleTable sample_table(const std::vector<ScaledWindow>& windows) const {
        SampleTable table;
        table.rows = int64_t(windows.size()) * raw_dim_;
        TWP_CHECK(table.rows <= int64_t(std::numeric_limits<int32_t>::max()),
                  "the per-weight MLP's " << windows.size() << " windows of " << raw_dim_ << " weights are more samples than "
                                          << "32-bit rows index");
        std::vector<float> features(table.rows * features_), targets(table.rows);
        for (size_t w = 0; w < windows.size(); ++w) {
            const float* last = windows[w].snapshots + (k_ - 1) * raw_dim_;
            for (int64_t j = 0; j < raw_dim_; ++j) {
                const int64_t row = int64_t(w) * raw_dim_ + j;
                fill_row(windows[w], j, &features[row * features_]);
                targets[row] = (last[raw_dim_ + j] - last[j]) * windows[w].inverse[group_of_[j]];
            }
        }
        table.features = Buffer<float>(backend_, table.rows * features_);
        table.features.upload(features);
        table.targets = Buffer<float>(backend_, table.rows);
        table.targets.upload(targets);
        return table;
    }

    // One Adam step on a mini-batch of samples drawn uniformly from the table (gathered on the backend).
    void train_step(const SampleTable& train, Rng& sampler, int64_t step, const AdamConfig& adam) {
        const int64_t b = options_.batch_size;
        for (int64_t i = 0; i < b; ++i) host_rows_[i] = int32_t(sampler.below(uint32_t(train.rows)));
        rows_buffer_.upload(host_rows_);
        const Tensor x = inputs_.view({b, features_}), target = targets_.view({b, 1});
        backend_.gather_rows(train.features.view({train.rows, features_}), rows_buffer_.view({b}), x);
        backend_.gather_rows(train.targets.view({train.rows, 1}), rows_buffer_.view({b}), target);
        const Tensor y = model_.forward(x);
        backend_.mse_loss_backward(y, target, dpred_.view({b, 1}));
        model_.backward(x, dpred_.view({b, 1}));
        backend_.adam_update(model_.parameters().view(), model_.gradients().view(), adam_m_.view(), adam_v_.view(), step,
                             adam);
    }

    // The model's output (the next step, normalized) for every weight of every window:
    // [windows, raw_dim], in forward passes of up to inference_rows rows assembled on the host.
    std::vector<float> outputs(const std::vector<ScaledWindow>& windows) {
        const int64_t total = int64_t(windows.size()) * raw_dim_;
        std::vector<float> out(total);
        for (int64_t begin = 0; begin < total; begin += options_.inference_rows) {
            const int64_t rows = std::min(options_.inference_rows, total - begin);
            for (int64_t r = 0; r < rows; ++r)
                fill_row(windows[(begin + r) / raw_dim_], (begin + r) % raw_dim_, &host_inputs_[r * features_]);
            inputs_.upload(host_inputs_.data(), rows * features_);
            const Tensor y = model_.forward(inputs_.view({rows, features_}));
            backend_.copy_to_host(out.data() + begin, y.data, sizeof(float) * rows);
        }
        return out;
    }
    // The same for the rows of a table, already in the backend's memory.
    std::vector<float> outputs(const SampleTable& table) {
        std::vector<float> out(table.rows);
        for (int64_t begin = 0; begin < table.rows; begin += options_.inference_rows) {
            const int64_t rows = std::min(options_.inference_rows, table.rows - begin);
            const Tensor y = model_.forward(Tensor{table.features.data() + begin * features_, Shape{rows, features_}});
            backend_.copy_to_host(out.data() + begin, y.data, sizeof(float) * rows);
        }
        return out;
    }

    // The next snapshot after each window from the model's outputs [windows, raw_dim], in place:
    // x_t + s_g * y.
    void to_weights(const std::vector<ScaledWindow>& windows, std::vector<float>& out) const {
        for (size_t w = 0; w < windows.size(); ++w) {
            const float* last = windows[w].snapshots + (k_ - 1) * raw_dim_;
            float* row = out.data() + w * raw_dim_;
            for (int64_t j = 0; j < raw_dim_; ++j) row[j] = last[j] + windows[w].scale[group_of_[j]] * row[j];
        }
    }
    std::vector<float> next_weights(const std::vector<ScaledWindow>& windows) {
        std::vector<float> next = outputs(windows);
        to_weights(windows, next);
        return next;
    }

    // The weight-space one-step MSE over every weight of the windows (whose target follows them in
    // the run's storage) and their table.
    double validation_mse(const std::vector<ScaledWindow>& windows, const SampleTable& table) {
        std::vector<float> next = outputs(table);
        to_weights(windows, next);
        double sum = 0;
        for (size_t w = 0; w < windows.size(); ++w) {
            const float* target = windows[w].snapshots + k_ * raw_dim_;
            const float* predicted = next.data() + w * raw_dim_;
            for (int64_t j = 0; j < raw_dim_; ++j) {
                const double diff = double(predicted[j]) - double(target[j]);
                sum += diff * diff;
            }
        }
        return sum / double(int64_t(windows.size()) * raw_dim_);
    }

    Backend& backend_;
    const FeatureSpace& space_;
    const ParamLayout groups_;
    const PerWeightOptions options_;
    const uint64_t seed_;
    const int64_t k_, raw_dim_, group_count_, features_;
    const int64_t rows_;  // the most rows one forward takes: max(batch_size, inference_rows)
    PerWeightMlp model_;
    Buffer<float> inputs_;             // [rows, F]
    Buffer<float> targets_, dpred_;    // [batch_size, 1]
    Buffer<float> adam_m_, adam_v_;    // the model's layout
    std::vector<float> host_inputs_;   // [rows, F]
    Buffer<int32_t> rows_buffer_;      // [batch_size]: the samples of a step
    std::vector<int32_t> host_rows_;   // [batch_size]
    std::vector<int32_t> group_of_;    // [raw_dim]: each weight's group
    // What the fit chose.
    bool fitted_ = false;
    int64_t best_step_ = 0, train_windows_ = 0, validation_windows_ = 0;
    double validation_mse_ = NAN, last_value_mse_ = NAN, seconds_ = 0;
};

}  // namespace

ParamLayout per_weight_groups(int64_t raw_dim) {
    if (raw_dim == LeNet5::kParameterCount) return LeNet5::layout();
    return ParamLayout{{"all", {raw_dim}}};
}

std::unique_ptr<Forecaster> make_per_weight_forecaster(const ForecasterContext& context, ParamLayout groups,
                                                       const PerWeightOptions& options) {
    const PredictorData& data = context.data;
    if (data.sequence_length < 2)
        throw UsageError("the per-weight MLP (--forecasters per_weight) reads each weight's steps between the snapshots "
                         "of a window: it needs --sequence_length 2 or more, got " +
                         std::to_string(data.sequence_length));
    const int64_t raw_dim = data.space.raw_dim;
    TWP_CHECK(raw_dim >= 1 && raw_dim <= int64_t(std::numeric_limits<uint32_t>::max()),
              "the per-weight MLP forecasts vectors of 1 to 2^32 - 1 weights, got " << raw_dim);
    TWP_CHECK(!groups.entries().empty() && groups.total() == raw_dim,
              "the per-weight MLP's groups hold " << groups.total() << " weights, the vectors " << raw_dim);
    TWP_CHECK(options.hidden >= 1 && options.batch_size >= 1 && options.steps >= 0 && options.validate_every >= 1 &&
                  options.inference_rows >= 1 && options.learning_rate > 0,
              "per-weight MLP options: hidden " << options.hidden << ", batch " << options.batch_size << ", steps "
                                                << options.steps << ", validate every " << options.validate_every
                                                << ", inference rows " << options.inference_rows);
    return std::make_unique<PerWeightForecaster>(context, std::move(groups), options);
}

std::unique_ptr<Forecaster> make_per_weight_forecaster(const ForecasterContext& context) {
    return make_per_weight_forecaster(context, per_weight_groups(context.data.space.raw_dim), PerWeightOptions{});
}

}  // namespace twp
