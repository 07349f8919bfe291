// The diffusion forecaster; see diffusion_forecaster.hpp.
#include "experiment/diffusion_forecaster.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"
#include "experiment/config.hpp"
#include "experiment/diffusion_denoiser.hpp"
#include "experiment/diffusion_schedule.hpp"
#include "experiment/numbers.hpp"

namespace twp {

DiffusionOptions diffusion_options(const Config& config) {
    DiffusionOptions options;
    options.samples = config.samples;
    options.sampler_steps = config.diffusion_steps;
    return options;
}

namespace {

using Clock = std::chrono::steady_clock;

// A Philox key per purpose of one seed (splitmix64 of the pair): the training noise, the fixed
// validation draws, and the sampling noise of each path step.
uint64_t noise_key(uint64_t seed, uint64_t purpose) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (purpose + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
constexpr uint64_t kTrainNoise = 0, kValidationNoise = 1, kSampleNoise = 2;  // sampling: kSampleNoise + step

class DiffusionForecaster final : public Forecaster {
public:
    DiffusionForecaster(const ForecasterContext& context, const DiffusionOptions& options)
        : backend_(context.backend), options_(options), space_(context.data.space), k_(context.data.sequence_length),
          d_(context.data.space.dim()), condition_(d_ * (k_ - 1)), seed_(context.config.random_seed),
          schedule_(kDiffusionTimesteps), max_rows_(std::max(options.batch_size, options.max_rows)),
          model_(backend_, DenoiserShape{d_, condition_, options.embedding, options.hidden}, max_rows_),
          adam_m_(backend_, model_.layout().total()), adam_v_(backend_, model_.layout().total()),
          rows_(backend_, max_rows_), timesteps_(backend_, max_rows_), signal_(backend_, max_rows_),
          noise_level_(backend_, max_rows_), x_coefficient_(backend_, max_rows_), eps_coefficient_(backend_, max_rows_),
          cond_rows_(backend_, max_rows_ * condition_), clean_(backend_, max_rows_ * d_), noise_(backend_, max_rows_ * d_),
          noised_(backend_, max_rows_ * d_), d_estimate_(backend_, max_rows_ * d_), loss_(backend_, 1),
          host_rows_(max_rows_) {
        fit_statistics(context.data);
    }

    const ForecasterNames& names() const override {
        static const ForecasterNames names{"diffusion", "diffusion (DDIM, mean of samples)", "diffusion",
                                           "diffusion model"};
        return names;
    }
    ForecasterRole role() const override { return ForecasterRole::kLearned; }
    bool forecasts_weights() const override { return space_.use_pca; }
    int64_t min_history() const override { return k_; }
    int64_t samples() const override { return options_.samples; }

    void fit(const PredictorData& data) override {
        const Clock::time_point start = Clock::now();
        TWP_CHECK(data.space.dim() == d_ && data.sequence_length == k_,
                  "the diffusion forecaster was made for windows of " << k_ << " vectors of " << d_ << ", fitted on "
                                                                      << data.sequence_length << " of " << data.space.dim());
        TWP_CHECK(!data.train_windows.empty(), "the diffusion forecaster has no train window to learn from");
        const Table train = table(data, data.train_windows), validation = table(data, data.validation_windows);
        const ValidationDraws draws = validation_draws(validation);
        model_.initialize(seed_);
        backend_.fill(adam_m_.view(), 0.0f);
        backend_.fill(adam_v_.view(), 0.0f);
        Rng sampler(seed_, RngStream::kShuffle);
        const AdamConfig adam{options_.learning_rate, 0.9f, 0.999f, 1e-8f};
        std::vector<float> best = model_.parameters().download();
        best_step_ = 0;
        best_loss_ = NAN;
        steps_run_ = 0;
        stopped_early_ = false;
        for (int64_t step = 1; step <= options_.steps; ++step) {
            train_step(train, sampler, step, adam);
            steps_run_ = step;
            if (draws.rows == 0 || (step % options_.validate_every != 0 && step != options_.steps)) continue;
            const double loss = validation_loss(validation, draws);
            if (!std::isfinite(loss))
                TWP_FAIL("diffusion: the validation loss became " << number_text(loss) << " after step " << step
                         << ": the optimization diverged (learning rate " << float_text(options_.learning_rate) << ")");
            if (!(loss >= best_loss_)) {  // the first, or a better one
                best_loss_ = loss;
                best_step_ = step;
                best = model_.parameters().download();
            } else if (step - best_step_ >= options_.patience_steps) {
                stopped_early_ = true;
                break;
            }
        }
        if (draws.rows == 0)
            best_step_ = steps_run_;  // nothing to choose on: the last parameters
        else
            model_.parameters().upload(best);
        fitted_ = true;
        train_windows_ = train.rows;
        validation_windows_ = validation.rows;
        seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
        std::fprintf(stderr,
                     "twp: diffusion: %lld parameters, %lld train and %lld validation windows; %lld steps of %lld draws, "
                     "best step %lld (validation noise MSE %.4g), %.1f s\n",
                     static_cast<long long>(model_.layout().total()), static_cast<long long>(train.rows),
                     static_cast<long long>(validation.rows), static_cast<long long>(steps_run_),
                     static_cast<long long>(options_.batch_size), static_cast<long long>(best_step_), best_loss_, seconds_);
    }

    std::vector<ForecasterFact> facts() const override {
        if (!fitted_) return {};
        return {{"denoiser", "MLP, hidden " + std::to_string(options_.hidden) + ", timestep embedding " +
                                 std::to_string(options_.embedding)},
                {"parameters", std::to_string(model_.layout().total())},
                {"schedule", "cosine, " + std::to_string(kDiffusionTimesteps) + " timesteps"},
                {"sampler", "DDIM (eta 0), " + std::to_string(options_.sampler_steps) + " steps"},
                {"samples", std::to_string(options_.samples)},
                {"best_step", std::to_string(best_step_)},
                {"steps_run", std::to_string(steps_run_)},
                {"stopped_early", stopped_early_ ? "yes" : "no"},
                {"validation_noise_mse", validation_windows_ ? number_text(best_loss_, "%.6g") : "none (no validation window)"},
                {"train_windows", std::to_string(train_windows_)},
                {"seconds", number_text(seconds_, "%.2f")}};
    }

    std::vector<float> sample(const std::vector<History>& histories, int64_t width) override {
        const std::vector<float> last = last_scores(histories, width);
        const int64_t n = int64_t(histories.size()), s = options_.samples;
        std::vector<float> draws = next_scores(last, n, s, 0);  // [n, s, D]
        if (width == d_) return draws;
        std::vector<float> out;
        for (int64_t h = 0; h < n; ++h) {
            const float* raw_last = histories[h].vectors + (histories[h].length - 1) * width;
            const std::vector<float> moved =
                moved_weights(raw_last, last.data() + (h * k_ + k_ - 1) * d_, draws.data() + h * s * d_, s);
            out.insert(out.end(), moved.begin(), moved.end());
        }
        return out;
    }

    std::vector<float> predict(const std::vector<History>& histories, int64_t width) override {
        const std::vector<float> last = last_scores(histories, width);
        const int64_t n = int64_t(histories.size()), s = options_.samples;
        const std::vector<float> draws = next_scores(last, n, s, 0);
        std::vector<float> mean(n * d_, 0.0f);
        for (int64_t h = 0; h < n; ++h) mean_of(draws.data() + h * s * d_, s, mean.data() + h * d_);
        if (width == d_) return mean;
        std::vector<float> out;
        for (int64_t h = 0; h < n; ++h) {
            const float* raw_last = histories[h].vectors + (histories[h].length - 1) * width;
            const std::vector<float> moved = moved_weights(raw_last, last.data() + (h * k_ + k_ - 1) * d_, mean.data() + h * d_, 1);
            out.insert(out.end(), moved.begin(), moved.end());
        }
        return out;
    }

    std::vector<float> sample_paths(const History& history, int64_t width, int steps) override {
        const std::vector<float> last = last_scores({history}, width);
        const std::vector<float> paths = score_paths(last, steps);  // [S, steps, D]
        if (width == d_) return paths;
        const float* raw_last = history.vectors + (history.length - 1) * width;
        return moved_weights(raw_last, last.data() + (k_ - 1) * d_, paths.data(), options_.samples * steps);
    }

    std::vector<float> forecast(const History& history, int64_t width, int steps) override {
        const std::vector<float> last = last_scores({history}, width);
        const std::vector<float> paths = score_paths(last, steps);
        const int64_t s = options_.samples;
        std::vector<float> mean(steps * d_, 0.0f);
        for (int64_t p = 0; p < s; ++p)
            for (int64_t i = 0; i < steps * d_; ++i) mean[i] += paths[p * steps * d_ + i];
        for (float& v : mean) v /= float(s);
        if (width == d_) return mean;
        return moved_weights(history.vectors + (history.length - 1) * width, last.data() + (k_ - 1) * d_, mean.data(),
                             steps);
    }

private:
    // Train or validation windows: conditions [rows, C] and clean targets y [rows, D], in the
    // backend's memory.
    struct Table {
        int64_t rows = 0;
        Buffer<float> cond, clean;
    };
    // The fixed validation draws: row r is window r / validation_draws at timesteps[r].
    struct ValidationDraws {
        int64_t rows = 0;
        std::vector<int32_t> window;
        std::vector<float> timestep, signal, noise_level;
    };

    // step_rms_: each component's RMS step over the train windows (their next steps), floored at
    // kStandardizeFloor of the largest; 1 everywhere where no train window moves.
    void fit_statistics(const PredictorData& data) {
        TWP_CHECK(k_ >= 2 && d_ >= 1, "diffusion: windows of " << k_ << " vectors of " << d_);
        std::vector<double> sum(d_, 0.0);
        for (const Window& w : data.train_windows) {
            const float* z = data.scores[w.run_index].data() + (w.first + k_ - 1) * d_;
            for (int64_t c = 0; c < d_; ++c) sum[c] += (double(z[d_ + c]) - double(z[c])) * (double(z[d_ + c]) - double(z[c]));
        }
        step_rms_.assign(d_, 1.0f);
        double largest = 0;
        for (int64_t c = 0; c < d_; ++c) {
            sum[c] = data.train_windows.empty() ? 0 : std::sqrt(sum[c] / double(data.train_windows.size()));
            largest = std::max(largest, sum[c]);
        }
        if (largest > 0)
            for (int64_t c = 0; c < d_; ++c) step_rms_[c] = float(std::max(sum[c], kStandardizeFloor * largest));
    }

    // The window whose k PCA score vectors start at `z` [k, D]: its condition into cond [C] (its
    // standardized steps divided by its scale) and its scale, returned: the RMS over the components
    // of its last standardized step (of all its steps where that is 0; 0 for a window that does not
    // move, whose forecast is then its last value).
    float condition(const float* z, float* cond) const {
        std::vector<float> steps((k_ - 1) * d_);
        for (int64_t j = 0; j + 1 < k_; ++j)
            for (int64_t c = 0; c < d_; ++c) steps[j * d_ + c] = (z[(j + 1) * d_ + c] - z[j * d_ + c]) / step_rms_[c];
        const auto rms = [&](int64_t first) {
            double sum = 0;
            for (int64_t i = first * d_; i < (k_ - 1) * d_; ++i) sum += double(steps[i]) * double(steps[i]);
            return std::sqrt(sum / double(d_ * (k_ - 1 - first)));
        };
        double scale = rms(k_ - 2);
        if (scale == 0) scale = rms(0);
        const float window_scale = std::isnormal(float(scale)) ? float(scale) : 0.0f;
        const float inverse = window_scale > 0 ? 1.0f / window_scale : 0.0f;
        for (int64_t i = 0; i < (k_ - 1) * d_; ++i) cond[i] = steps[i] * inverse;
        return window_scale;
    }

    Table table(const PredictorData& data, const std::vector<Window>& windows) {
        Table t;
        t.rows = int64_t(windows.size());
        if (t.rows == 0) return t;
        std::vector<float> cond(t.rows * condition_), clean(t.rows * d_);
        for (int64_t i = 0; i < t.rows; ++i) {
            const Window& w = windows[i];
            const float* z = data.scores[w.run_index].data() + w.first * d_;
            const float window_scale = condition(z, cond.data() + i * condition_);
            const float inverse = window_scale > 0 ? 1.0f / window_scale : 0.0f;
            const float* last = z + (k_ - 1) * d_;
            for (int64_t c = 0; c < d_; ++c) clean[i * d_ + c] = (last[d_ + c] - last[c]) / step_rms_[c] * inverse;
        }
        t.cond = Buffer<float>(backend_, t.rows * condition_);
        t.cond.upload(cond);
        t.clean = Buffer<float>(backend_, t.rows * d_);
        t.clean.upload(clean);
        return t;
    }

    // x_t of rows [0, rows) from clean_ and the noise drawn at (key, offset): gathers the rows'
    // windows, draws the noise, uploads the coefficients and noises.
    void noised_rows(const Table& t, const int32_t* windows, const float* timestep, const float* signal,
                     const float* noise_level, int64_t rows, uint64_t key, uint64_t offset) {
        std::copy(windows, windows + rows, host_rows_.begin());
        rows_.upload(host_rows_.data(), rows);
        timesteps_.upload(timestep, rows);
        signal_.upload(signal, rows);
        noise_level_.upload(noise_level, rows);
        const Tensor clean = clean_.view({rows, d_}), noise = noise_.view({rows, d_});
        backend_.gather_rows(t.cond.view({t.rows, condition_}), rows_.view({rows}), cond_rows_.view({rows, condition_}));
        backend_.gather_rows(t.clean.view({t.rows, d_}), rows_.view({rows}), clean);
        backend_.normal_fill(noise, key, offset);
        backend_.row_combine_forward(signal_.view({rows}), clean, noise_level_.view({rows}), noise, noised_.view({rows, d_}));
    }

    void train_step(const Table& train, Rng& sampler, int64_t step, const AdamConfig& adam) {
        const int64_t b = options_.batch_size;
        std::vector<int32_t> windows(b);
        std::vector<float> timestep(b), signal(b), noise_level(b);
        for (int64_t i = 0; i < b; ++i) {
            windows[i] = int32_t(sampler.below(uint32_t(train.rows)));
            const int t = int(sampler.below(uint32_t(schedule_.timesteps())));
            timestep[i] = float(t);
            signal[i] = float(std::sqrt(schedule_.alpha_bar(t)));
            noise_level[i] = float(std::sqrt(1 - schedule_.alpha_bar(t)));
        }
        noised_rows(train, windows.data(), timestep.data(), signal.data(), noise_level.data(), b,
                    noise_key(seed_, kTrainNoise), uint64_t(step - 1) * uint64_t(b * d_));
        const Tensor x = noised_.view({b, d_}), cond = cond_rows_.view({b, condition_});
        const Tensor estimate = model_.forward(x, cond, timesteps_.view({b}), noise_level_.view({b}));
        backend_.mse_loss_backward(estimate, noise_.view({b, d_}), d_estimate_.view({b, d_}));
        model_.backward(x, cond, d_estimate_.view({b, d_}));
        backend_.adam_update(model_.parameters().view(), model_.gradients().view(), adam_m_.view(), adam_v_.view(), step,
                             adam);
    }

    ValidationDraws validation_draws(const Table& validation) const {
        ValidationDraws v;
        v.rows = validation.rows * options_.validation_draws;
        Rng rng(noise_key(seed_, kValidationNoise), RngStream::kShuffle);
        for (int64_t r = 0; r < v.rows; ++r) {
            const int t = int(rng.below(uint32_t(schedule_.timesteps())));
            v.window.push_back(int32_t(r / options_.validation_draws));
            v.timestep.push_back(float(t));
            v.signal.push_back(float(std::sqrt(schedule_.alpha_bar(t))));
            v.noise_level.push_back(float(std::sqrt(1 - schedule_.alpha_bar(t))));
        }
        return v;
    }

    // The noise-prediction MSE over the fixed validation draws.
    double validation_loss(const Table& validation, const ValidationDraws& v) {
        double sum = 0;
        for (int64_t begin = 0; begin < v.rows; begin += max_rows_) {
            const int64_t rows = std::min(max_rows_, v.rows - begin);
            noised_rows(validation, v.window.data() + begin, v.timestep.data() + begin, v.signal.data() + begin,
                        v.noise_level.data() + begin, rows, noise_key(seed_, kValidationNoise), uint64_t(begin * d_));
            const Tensor estimate =
                model_.forward(noised_.view({rows, d_}), cond_rows_.view({rows, condition_}), timesteps_.view({rows}),
                               noise_level_.view({rows}));
            backend_.mse_loss_forward(estimate, noise_.view({rows, d_}), loss_.view());
            float loss = 0;
            loss_.download(&loss, 1);
            sum += double(loss) * double(rows);
        }
        return sum / double(v.rows);
    }

    // The last k PCA score vectors of each history: [n, k, D].
    std::vector<float> last_scores(const std::vector<History>& histories, int64_t width) {
        TWP_CHECK(width == d_ || (space_.use_pca && width == space_.raw_dim),
                  "the diffusion forecaster forecasts " << d_ << " PCA scores"
                      << (space_.use_pca ? " or " + std::to_string(space_.raw_dim) + " weights" : std::string())
                      << ", asked for vectors of " << width);
        std::vector<float> windows;
        for (const History& h : histories) {
            TWP_CHECK(h.length >= k_, "the diffusion forecaster needs " << k_ << " vectors of history, got " << h.length);
            windows.insert(windows.end(), h.vectors + (h.length - k_) * width, h.vectors + h.length * width);
        }
        if (width == d_) return windows;
        return space_.to_pca(backend_, windows.data(), int64_t(histories.size()) * k_);
    }

    // Draws of the next scores after each of n windows (last [n, k, D]), `per` draws each, with the
    // noise of path step `step`: [n, per, D].
    std::vector<float> next_scores(const std::vector<float>& last, int64_t n, int64_t per, int step) {
        TWP_CHECK(fitted_, "the diffusion forecaster samples before it was fitted");
        std::vector<float> cond(n * condition_), window_scale(n);
        for (int64_t h = 0; h < n; ++h) window_scale[h] = condition(last.data() + h * k_ * d_, cond.data() + h * condition_);
        Buffer<float> conditions(backend_, std::max<int64_t>(n * condition_, 1));
        conditions.upload(cond.data(), n * condition_);
        const int64_t total = n * per;
        std::vector<float> out(total * d_);
        const uint64_t key = noise_key(seed_, kSampleNoise + uint64_t(step));
        for (int64_t begin = 0; begin < total; begin += max_rows_) {
            const int64_t rows = std::min(max_rows_, total - begin);
            for (int64_t r = 0; r < rows; ++r) host_rows_[r] = int32_t((begin + r) / per);
            rows_.upload(host_rows_.data(), rows);
            const Tensor cond_rows = cond_rows_.view({rows, condition_}), x = noised_.view({rows, d_});
            backend_.gather_rows(conditions.view({n, condition_}), rows_.view({rows}), cond_rows);
            backend_.normal_fill(x, key, uint64_t(begin * d_));
            const Tensor t = timesteps_.view({rows}), skip = noise_level_.view({rows});
            ddim_sample(
                backend_, schedule_, options_.sampler_steps,
                [&](Tensor noised, int timestep) {
                    backend_.fill(t, float(timestep));
                    backend_.fill(skip, float(std::sqrt(1 - schedule_.alpha_bar(timestep))));
                    return model_.forward(noised, cond_rows, t, skip);
                },
                x, x_coefficient_.view({rows}), eps_coefficient_.view({rows}));
            backend_.copy_to_host(out.data() + begin * d_, x.data, sizeof(float) * rows * d_);
        }
        // From steps in the window's units to scores: z_{t+1} = z_t + window scale * y * step RMS.
        for (int64_t r = 0; r < total; ++r) {
            const float* z = last.data() + ((r / per) * k_ + k_ - 1) * d_;
            const float step = window_scale[r / per];
            for (int64_t c = 0; c < d_; ++c) out[r * d_ + c] = z[c] + step * out[r * d_ + c] * step_rms_[c];
        }
        return out;
    }

    // [S, steps, D]: S paths from one window's last k scores [k, D], each step conditioned on the
    // path's own last k.
    std::vector<float> score_paths(const std::vector<float>& last, int steps) {
        const int64_t s = options_.samples;
        std::vector<float> windows(s * k_ * d_);
        for (int64_t p = 0; p < s; ++p) std::copy(last.begin(), last.end(), windows.begin() + p * k_ * d_);
        std::vector<float> paths(s * steps * d_);
        for (int i = 0; i < steps; ++i) {
            const std::vector<float> next = next_scores(windows, s, 1, i);
            for (int64_t p = 0; p < s; ++p) {
                std::copy(next.begin() + p * d_, next.begin() + (p + 1) * d_, paths.begin() + (p * steps + i) * d_);
                float* w = windows.data() + p * k_ * d_;
                std::copy(w + d_, w + k_ * d_, w);
                std::copy(next.begin() + p * d_, next.begin() + (p + 1) * d_, w + (k_ - 1) * d_);
            }
        }
        return paths;
    }

    // The last weights raw_last [raw_dim] moved by each of `rows` score vectors' change from
    // z_last: raw_last + B^T (z - z_last) (from_pca's mean cancels). [rows, raw_dim].
    std::vector<float> moved_weights(const float* raw_last, const float* z_last, const float* scores, int64_t rows) {
        const int64_t raw = space_.raw_dim;
        std::vector<float> change(rows * d_);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < d_; ++c) change[r * d_ + c] = scores[r * d_ + c] - z_last[c];
        // B^T (z - z_last) = from_pca(z - z_last) - from_pca(0).
        std::vector<float> moved = space_.from_pca(backend_, change.data(), rows);
        const std::vector<float> zero(d_, 0.0f);
        const std::vector<float> origin = space_.from_pca(backend_, zero.data(), 1);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < raw; ++j) moved[r * raw + j] += raw_last[j] - origin[j];
        return moved;
    }

    void mean_of(const float* draws, int64_t count, float* mean) const {
        std::vector<double> sum(d_, 0.0);
        for (int64_t s = 0; s < count; ++s)
            for (int64_t c = 0; c < d_; ++c) sum[c] += draws[s * d_ + c];
        for (int64_t c = 0; c < d_; ++c) mean[c] = float(sum[c] / double(count));
    }

    Backend& backend_;
    const DiffusionOptions options_;
    const FeatureSpace space_;
    const int64_t k_, d_, condition_;
    const uint64_t seed_;
    const CosineSchedule schedule_;
    const int64_t max_rows_;
    DiffusionDenoiser model_;
    Buffer<float> adam_m_, adam_v_;
    Buffer<int32_t> rows_;
    Buffer<float> timesteps_, signal_, noise_level_, x_coefficient_, eps_coefficient_;  // [max_rows]
    Buffer<float> cond_rows_;                                                         // [max_rows, C]
    Buffer<float> clean_, noise_, noised_, d_estimate_;                               // [max_rows, D]
    Buffer<float> loss_;                                                              // [1]
    std::vector<int32_t> host_rows_;
    std::vector<float> step_rms_;  // [D]: the standardization of the steps
    bool fitted_ = false, stopped_early_ = false;
    int64_t best_step_ = 0, steps_run_ = 0, train_windows_ = 0, validation_windows_ = 0;
    double best_loss_ = NAN, seconds_ = 0;
};

}  // namespace

std::unique_ptr<Forecaster> make_diffusion_forecaster(const ForecasterContext& context, const DiffusionOptions& options) {
    if (context.loaded) return nullptr;  // an evaluation mode's --model_path holds a transformer
    const PredictorData& data = context.data;
    if (data.sequence_length < 2)
        throw UsageError("the diffusion forecaster conditions on the window's steps: --sequence_length " +
                         std::to_string(data.sequence_length) + " has none; give 2 or more");
    if (data.space.dim() > context.config.max_width)
        throw UsageError("the diffusion forecaster would model " + std::to_string(data.space.dim()) +
                         " values, above --max_width " + std::to_string(context.config.max_width) +
                         ": use --apply_pca (with --n_components), or raise --max_width");
    return std::make_unique<DiffusionForecaster>(context, options);
}

std::unique_ptr<Forecaster> make_diffusion_forecaster(const ForecasterContext& context) {
    return make_diffusion_forecaster(context, diffusion_options(context.config));
}

}  // namespace twp
