// The diffusion forecaster's noise schedule and sampler (experiment/diffusion_forecaster.hpp).
//
// Schedule: the cosine schedule of Nichol & Dhariwal (2021) over T discrete timesteps 0..T-1:
//   alpha_bar(t) = max(f(t + 1) / f(0), 1e-4), f(u) = cos^2((u / T + s) / (1 + s) * pi / 2), s = 0.008,
// falling from 0.99996 at t = 0 to 1e-4 at t = T - 1. Unfloored, alpha_bar reaches 0 at t = T - 1
// (their betas are clipped at 0.999 there, which leaves 2e-9): the sampler's first step divides
// the model's noise estimate by sqrt(alpha_bar), and a floor of 1e-4 (the last 0.7% of the
// timesteps, where x_t is noise to 1 part in 100) keeps that factor at 100, not 20,000. The
// forward process noises a clean x_0 to x_t = sqrt(alpha_bar(t)) x_0 + sqrt(1 - alpha_bar(t)) eps.
//
// Sampler: DDIM (Song et al. 2021) with eta = 0, deterministic given x_{T-1}: `steps` timesteps
// spaced evenly from T - 1 down ("trailing": T - 1, T - 1 - T/steps, ...), at each the model's
// eps for x_t gives x_0 = (x_t - sqrt(1 - a) eps) / sqrt(a) and the next x = sqrt(a') x_0 +
// sqrt(1 - a') eps (a' the next timestep's alpha_bar; 1 after the last, which returns x_0). As one
// row_combine per step: x' = sqrt(a'/a) x_t + (sqrt(1 - a') - sqrt(a'(1 - a)/a)) eps. Starting at
// T - 1 the start N(0, I) is the forward process's end but for its 1% of signal (sqrt(1e-4)).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/backend.hpp"

namespace twp {

class CosineSchedule {
public:
    explicit CosineSchedule(int timesteps = 1000, double offset = 0.008, double floor = 1e-4);
    int timesteps() const { return int(alpha_bar_.size()); }
    double alpha_bar(int t) const;  // 0 <= t < timesteps()
    // The sampler's timesteps, descending from T - 1; 1 <= steps <= T.
    std::vector<int> sampling_timesteps(int steps) const;

private:
    std::vector<double> alpha_bar_;
};

// The DDIM step from timestep t to `next` (-1: to x_0): x' = x_coefficient x_t + eps_coefficient eps.
struct DdimStep {
    int t = 0, next = -1;
    float x_coefficient = 1, eps_coefficient = 0;
};
std::vector<DdimStep> ddim_steps(const CosineSchedule& schedule, int steps);

// The model's noise estimate for x [B, D] at timestep t (the same for every row): a view [B, D]
// that stays valid until the next call.
using Denoiser = std::function<Tensor(Tensor x, int t)>;

// Runs the sampler in place: x [B, D] holds x_{T-1} (standard normal noise) and ends holding x_0.
// The coefficients x_coefficient, eps_coefficient [B] are scratch in the backend's memory. Every
// step is backend ops: the denoiser, two fills, one row_combine.
void ddim_sample(Backend& backend, const CosineSchedule& schedule, int steps, const Denoiser& denoiser, Tensor x,
                 Tensor x_coefficient, Tensor eps_coefficient);

}  // namespace twp
