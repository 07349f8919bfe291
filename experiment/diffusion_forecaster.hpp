// The "diffusion" forecaster: a conditional denoising diffusion model of the next step, which
// samples the next snapshot given the last k (the reference's "diffusion-based predictor" extension;
// p-diff and G.pt generate weights with diffusion, this one forecasts them).
//
// Space: steps of the PCA scores z, standardized per component by the train windows' RMS step r
// (d = (z_{t+1} - z_t) / r), and in units of the window's own scale sigma, the RMS over components
// of its last standardized step (as the per-weight forecaster's groups: late steps are small, and
// a model of absolute sizes would meet out-of-range inputs on every window after the train ones).
// The model draws y = d_{t+1} / sigma; the forecast is z_t + sigma r y. Conditioning: the window's
// k - 1 standardized steps in those units, cond = [d_{t-k+2} / sigma .. d_t / sigma] (C = (k-1) D).
// The denoiser is an MLP (experiment/diffusion_denoiser.hpp), not the transformer encoder: the
// condition is one short window of k - 1 steps, the main job has 39 train windows, and
// an MLP over the flattened window is the model that data can fit (the transformer recipe stops at
// its first epochs on the same windows).
//
// fit(): the noise-prediction loss (Ho et al. 2020): each Adam step draws batch_size (train window,
// timestep t uniform in 0..T-1, noise eps) triples, noises y to x_t = sqrt(abar_t) y +
// sqrt(1 - abar_t) eps (row_combine) and regresses the denoiser's estimate on eps (MSE). Windows and
// timesteps come from the Rng of Config::random_seed, the noise from normal_fill on the device.
// Every validate_every steps the same loss over a fixed set of validation draws (validation_draws
// per validation window, drawn once) is measured; the parameters of the best point are kept, and
// training stops after patience_steps without a better one. The test windows are never read.
//
// Sampling: the cosine schedule over T = 1000 timesteps and a deterministic DDIM sampler of
// --diffusion_steps steps (experiment/diffusion_schedule.hpp); --samples draws per forecast,
// batched over histories and draws on the device (rows of up to max_rows). Draw s of history h
// starts from the noise at offset (h S + s) D of a Philox key made of the seed and the path step,
// so the draws are a pure function of the seed and the histories (the same in PCA space and in
// weight space, and the same call after call). predict() and forecast() are the means of the draws;
// in weight space, as the transformer recipe's, a draw is the last weights moved by its change of
// scores mapped back through the PCA (what the PCA does not hold stays at its last value).
#pragma once

#include <cstdint>
#include <memory>

#include "experiment/forecaster.hpp"

namespace twp {

struct DiffusionOptions {
    int64_t hidden = 256;             // denoiser width (diffusion_denoiser.hpp)
    int64_t embedding = 64;           // timestep embedding width
    int64_t batch_size = 256;         // (window, timestep, noise) draws per Adam step
    int64_t steps = 4000;             // Adam steps at most
    int64_t validate_every = 10;      // steps between validation passes
    int64_t patience_steps = 500;     // early stopping: steps without a better validation loss
    float learning_rate = 1e-4f;
    int64_t validation_draws = 64;    // (timestep, noise) draws per validation window, fixed
    int64_t max_rows = 4096;          // rows per forward pass (training validation and sampling)
    int sampler_steps = 50;           // --diffusion_steps
    int64_t samples = 32;             // --samples
};

// The options of the command line (--samples, --diffusion_steps) over the defaults.
DiffusionOptions diffusion_options(const Config& config);

// UsageError for windows of one snapshot (no step to condition on) or a width above --max_width.
std::unique_ptr<Forecaster> make_diffusion_forecaster(const ForecasterContext& context, const DiffusionOptions& options);
std::unique_ptr<Forecaster> make_diffusion_forecaster(const ForecasterContext& context);

}  // namespace twp
