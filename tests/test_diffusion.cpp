// The diffusion forecaster (experiment/diffusion_*.hpp) and its scores (experiment/calibration.hpp):
// - the cosine schedule's values and the sampler's timesteps;
// - forward noising: x_t of a constant x_0 has mean sqrt(abar) x_0 and variance 1 - abar;
// - the sampler inverts the forward process: with the exact noise estimate of a known Gaussian
//   (E[eps | x_t] in closed form) DDIM turns standard normal noise into draws of that Gaussian;
// - coverage, the CRPS and the memorization check on hand-made cases, and coverage of a
//   calibrated forecast at its nominal rate;
// - the forecaster: seeded determinism of fit and draws, predict() as the draws' mean, the first
//   step of the sample paths as sample()'s draws;
// - bad input refused before anything is written (exit status 2 from the CLI).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "experiment/calibration.hpp"
#include "experiment/config.hpp"
#include "experiment/diffusion_forecaster.hpp"
#include "experiment/diffusion_schedule.hpp"
#include "experiment/pipeline.hpp"
#include "tests/synthetic_weights.hpp"

namespace twp {
namespace {

namespace fs = std::filesystem;

CpuBackend& backend() {
    static CpuBackend b(1);
    return b;
}

double mean_of(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s / double(v.size());
}

double sd_of(const std::vector<float>& v) {
    const double m = mean_of(v);
    double s = 0;
    for (float x : v) s += (x - m) * (x - m);
    return std::sqrt(s / double(v.size() - 1));
}

TEST_CASE("the cosine schedule falls from ~1 to its floor, and the sampler's timesteps trail from T - 1",
          "[diffusion][schedule]") {
    const CosineSchedule schedule;
    REQUIRE(schedule.timesteps() == 1000);
    CHECK(schedule.alpha_bar(0) == Approx(0.99996).margin(1e-5));
    CHECK(schedule.alpha_bar(999) == Approx(1e-4));
    // f(u) / f(0) at u = 500: cos^2((0.5 + 0.008) / 1.008 * pi / 2) / cos^2(0.008 / 1.008 * pi / 2).
    const double pi = 3.14159265358979323846;
    const double half = std::pow(std::cos(0.508 / 1.008 * pi / 2), 2) / std::pow(std::cos(0.008 / 1.008 * pi / 2), 2);
    CHECK(schedule.alpha_bar(499) == Approx(half).epsilon(1e-12));
    for (int t = 1; t < 1000; ++t) CHECK(schedule.alpha_bar(t) <= schedule.alpha_bar(t - 1));
    CHECK(schedule.sampling_timesteps(10) == std::vector<int>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99});
    CHECK(schedule.sampling_timesteps(1) == std::vector<int>{999});
    CHECK(schedule.sampling_timesteps(1000).back() == 0);
    CHECK_THROWS(schedule.sampling_timesteps(0));
    CHECK_THROWS(schedule.sampling_timesteps(1001));
    // The last DDIM step goes to x_0: its coefficients are 1 / sqrt(a) and -sqrt(1 - a) / sqrt(a).
    const std::vector<DdimStep> steps = ddim_steps(schedule, 10);
    const double a = schedule.alpha_bar(99);
    CHECK(steps.back().next == -1);
    CHECK(steps.back().x_coefficient == Approx(1 / std::sqrt(a)));
    CHECK(steps.back().eps_coefficient == Approx(-std::sqrt(1 - a) / std::sqrt(a)));
}

TEST_CASE("forward noising gives x_t the mean and variance of the schedule", "[diffusion][schedule]") {
    const CosineSchedule schedule;
    const int64_t rows = 20000, d = 2;
    Buffer<float> clean(backend(), rows * d), noise(backend(), rows * d), noised(backend(), rows * d);
    Buffer<float> signal(backend(), rows), level(backend(), rows);
    backend().fill(clean.view(), 2.0f);
    backend().normal_fill(noise.view(), 7, 0);
    for (const int t : {0, 300, 700, 999}) {
        const double a = schedule.alpha_bar(t);
        backend().fill(signal.view(), float(std::sqrt(a)));
        backend().fill(level.view(), float(std::sqrt(1 - a)));
        backend().row_combine_forward(signal.view(), clean.view({rows, d}), level.view(), noise.view({rows, d}),
                                      noised.view({rows, d}));
        const std::vector<float> x = noised.download();
        INFO("t = " << t);
        CHECK(mean_of(x) == Approx(2 * std::sqrt(a)).margin(4 * std::sqrt((1 - a) / double(rows * d)) + 1e-6));
        CHECK(sd_of(x) == Approx(std::sqrt(1 - a)).epsilon(0.02).margin(1e-6));
    }
}

// DDIM with the exact noise estimate of x_0 ~ N(mu, sigma^2): E[eps | x_t] =
// sqrt(1 - a) (x_t - sqrt(a) mu) / (a sigma^2 + 1 - a).
std::vector<float> invert_gaussian(double mu, double sigma, int steps, int64_t rows) {
    const CosineSchedule schedule;
    Buffer<float> x(backend(), rows), eps(backend(), rows), xc(backend(), rows), ec(backend(), rows);
    backend().normal_fill(x.view(), 11, 0);
    const Denoiser oracle = [&](Tensor noised, int t) {
        const double a = schedule.alpha_bar(t);
        std::vector<float> host(rows);
        backend().copy_to_host(host.data(), noised.data, sizeof(float) * rows);
        for (float& v : host) v = float(std::sqrt(1 - a) * (v - std::sqrt(a) * mu) / (a * sigma * sigma + 1 - a));
        eps.upload(host);
        return eps.view({rows, 1});
    };
    ddim_sample(backend(), schedule, steps, oracle, x.view({rows, 1}), xc.view(), ec.view());
    return x.download();
}

TEST_CASE("the DDIM sampler turns noise into draws of a known Gaussian", "[diffusion][sampler]") {
    const int64_t rows = 20000;
    // The sampler is a linear map here, so its result is known exactly: the mean 1.493 whatever the
    // steps, the standard deviation 0.362, 0.427, 0.485 and 0.492 after 5, 10, 50 and 100 steps
    // (eta-0 DDIM shrinks the spread in few steps; hence the default --diffusion_steps 50, within 3%).
    const std::vector<float> fine = invert_gaussian(1.5, 0.5, 50, rows);
    CHECK(mean_of(fine) == Approx(1.5).margin(0.02));
    CHECK(sd_of(fine) == Approx(0.5).epsilon(0.04));
    CHECK(sd_of(fine) == Approx(0.4845).epsilon(0.02));
    const std::vector<float> coarse = invert_gaussian(1.5, 0.5, 10, rows);
    CHECK(mean_of(coarse) == Approx(1.5).margin(0.02));
    CHECK(sd_of(coarse) == Approx(0.427).epsilon(0.02));
    // Deterministic: the same noise gives the same draws.
    CHECK(invert_gaussian(1.5, 0.5, 10, 100) == invert_gaussian(1.5, 0.5, 10, 100));
}

TEST_CASE("sample quantiles, the CRPS and coverage on hand-made cases", "[diffusion][calibration]") {
    const std::vector<float> four = {1, 2, 3, 4};
    CHECK(sample_quantile(four.data(), 4, 0.5) == Approx(2.5));   // position 2.5
    CHECK(sample_quantile(four.data(), 4, 0.05) == Approx(1.0));  // position 0.25: clamped
    CHECK(sample_quantile(four.data(), 4, 0.7) == Approx(3.5));   // position 3.5
    CHECK(sample_quantile(four.data(), 4, 1.0) == Approx(4.0));
    const std::vector<float> one = {3}, two = {0, 1};
    CHECK(crps_draws(one.data(), 1, 5.0) == Approx(2.0));       // a point forecast: |x - y|
    CHECK(crps_draws(two.data(), 2, 0.0) == Approx(0.25));      // E|X - y| 0.5, E|X - X'| / 2 0.25
    CHECK(crps_gaussian(0, 1, 0) == Approx(2 / std::sqrt(2 * 3.14159265358979) - 1 / std::sqrt(3.14159265358979)));
    CHECK(crps_gaussian(1, 0, 3) == Approx(2.0));
    // 19 draws 1..19: the 90% interval is [1, 19] (positions 1 and 19 of 20), the 50% one [5, 15].
    std::vector<float> draws;
    for (int w = 0; w < 3; ++w)
        for (int k = 1; k <= 19; ++k) draws.push_back(float(k));
    const std::vector<float> truth = {10, 17, 25};
    const SpreadScore s = score_draws(draws.data(), truth.data(), 3, 19, 1);
    CHECK(s.values == 3);
    CHECK(s.coverage50 == Approx(1.0 / 3));
    CHECK(s.coverage90 == Approx(2.0 / 3));
    // A Gaussian N(0, 1): 0.5 is inside the 50% interval (+-0.674), 1 inside the 90% (+-1.645) only.
    const std::vector<float> zero = {0, 0, 0}, near = {0.5f, 1.0f, 2.0f};
    const SpreadScore g = score_gaussian(zero.data(), {1.0}, near.data(), 3, 1);
    CHECK(g.coverage50 == Approx(1.0 / 3));
    CHECK(g.coverage90 == Approx(2.0 / 3));
    CHECK(g.crps == Approx((crps_gaussian(0, 1, 0.5) + crps_gaussian(0, 1, 1) + crps_gaussian(0, 1, 2)) / 3));
}

TEST_CASE("draws from the truth's own distribution cover at the nominal rates", "[diffusion][calibration]") {
    // 4000 windows of 2 components, 32 draws each and the truth, all standard normal.
    const int64_t n = 4000, s = 32, d = 2;
    std::vector<float> draws(n * s * d), truth(n * d);
    for (int64_t i = 0; i < int64_t(draws.size()); ++i) draws[i] = standard_normal(3, uint64_t(i));
    for (int64_t i = 0; i < int64_t(truth.size()); ++i) truth[i] = standard_normal(4, uint64_t(i));
    const SpreadScore score = score_draws(draws.data(), truth.data(), n, s, d);
    const std::vector<double>& levels = calibration_levels();
    for (size_t l = 0; l < levels.size(); ++l) {
        INFO("level " << levels[l]);
        // The binomial standard error at 8000 values is at most 0.0056.
        CHECK(score.coverage[l] == Approx(levels[l]).margin(0.02));
    }
    // An overconfident forecast (draws at a tenth of the spread) covers far less.
    for (float& v : draws) v *= 0.1f;
    CHECK(score_draws(draws.data(), truth.data(), n, s, d).coverage90 < 0.2);
}

TEST_CASE("the memorization check measures distances to the nearest training snapshot", "[diffusion][calibration]") {
    const std::vector<float> training = {0, 10};
    const std::vector<float> truth = {4};         // 4 from the nearest (0)
    const std::vector<float> draws = {1, 6, 9.5};  // 1, 4 and 0.5 from theirs
    const Memorization m = memorization(draws.data(), truth.data(), 1, 3, 1, training);
    CHECK(m.truth_distance == Approx(4.0));
    CHECK(m.draw_distance == Approx(5.5 / 3));
    CHECK(m.closer_fraction == Approx(2.0 / 3));  // 1 and 0.5 are nearer than 4; 4 is not
}

struct Draws {
    std::vector<float> samples, mean, paths;
    std::vector<ForecasterFact> facts;
};

Draws fit_and_draw(uint64_t seed) {
    const PredictorData data =
        test::raw_data(backend(), test::decaying_runs(2, 14, 10, {12, 8}, {1e-2f, 1e-3f}, 0.8f, 5), 3, 0.25);
    Config config;
    config.random_seed = seed;
    DiffusionOptions options;
    options.hidden = 16;
    options.embedding = 8;
    options.batch_size = 64;
    options.steps = 60;
    options.validate_every = 20;
    options.samples = 5;
    options.sampler_steps = 4;
    options.max_rows = 7;  // sampling in several passes
    std::unique_ptr<Forecaster> f = make_diffusion_forecaster(ForecasterContext{backend(), config, data, nullptr, {}, false}, options);
    REQUIRE(f->samples() == 5);
    f->fit(data);
    std::vector<History> histories;
    for (const Window& w : data.test_windows) histories.push_back({data.runs.runs[w.run_index].vectors.data(), w.first + 3});
    REQUIRE(histories.size() >= 2);
    Draws d;
    d.samples = f->sample(histories, data.space.dim());
    CHECK(f->sample(histories, data.space.dim()) == d.samples);  // the same call, the same draws
    d.mean = f->predict(histories, data.space.dim());
    d.paths = f->sample_paths(histories[0], data.space.dim(), 3);
    d.facts = f->facts();
    // predict() is the mean of the draws (history 1's here).
    const int64_t dim = data.space.dim();
    for (int64_t c = 0; c < dim; ++c) {
        double sum = 0;
        for (int64_t k = 0; k < 5; ++k) sum += d.samples[(1 * 5 + k) * dim + c];
        CHECK(d.mean[dim + c] == Approx(sum / 5).margin(1e-6));
    }
    // The sample paths' first step from history 0 is sample()'s draws for it (the same noise rows).
    for (int64_t k = 0; k < 5; ++k)
        for (int64_t c = 0; c < dim; ++c) CHECK(d.paths[(k * 3 + 0) * dim + c] == d.samples[k * dim + c]);
    return d;
}

TEST_CASE("the diffusion forecaster's fit and draws are determined by the seed", "[diffusion][forecaster]") {
    const Draws a = fit_and_draw(3), b = fit_and_draw(3), c = fit_and_draw(4);
    CHECK(a.samples == b.samples);
    CHECK(a.paths == b.paths);
    CHECK(a.samples != c.samples);
    // Every draw is finite and the draws of one window differ.
    for (float v : a.samples) REQUIRE(std::isfinite(v));
    CHECK(a.samples[0] != a.samples[20]);
    bool stepped = false;
    for (const ForecasterFact& f : a.facts) stepped |= f.key == "best_step" && f.value != "0";
    CHECK(stepped);
}

int run_twp(const std::string& arguments, const fs::path& log) {
    const std::string command = std::string(TWP_BINARY) + " --no_cuda --threads 1 " + arguments + " > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("bad diffusion input is refused with exit status 2 before anything is written", "[diffusion][cli]") {
    using Catch::Contains;
    const auto parse = [](const std::vector<std::string>& args) { return parse_args(args); };
    CHECK_THROWS_WITH(parse({"--samples", "0"}), Contains("--samples must be at least 1"));
    CHECK_THROWS_WITH(parse({"--diffusion_steps", "0"}), Contains("--diffusion_steps must be at least 1"));
    CHECK_THROWS_WITH(parse({"--diffusion_steps", "1001"}), Contains("at most one step per timestep"));
    CHECK_THROWS_WITH(make_plan(parse({"--forecasters", "last_value,diffusion"})),
                      Contains("the diffusion forecaster would model all 61,706 weights"));

    const fs::path dir = fs::temp_directory_path() / ("twp_diffusion_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string out = " --results_dir " + (dir / "results").string() + " --snapshot_dir " + (dir / "snapshots").string();
    CHECK(run_twp("--samples 0" + out, dir / "log") == 2);
    CHECK(run_twp("--diffusion_steps 0" + out, dir / "log") == 2);
    CHECK(run_twp("--forecasters diffusion" + out, dir / "log") == 2);
    CHECK_FALSE(fs::exists(dir / "results"));
    CHECK_FALSE(fs::exists(dir / "snapshots"));
    fs::remove_all(dir);
}

}  // namespace
}  // namespace twp
