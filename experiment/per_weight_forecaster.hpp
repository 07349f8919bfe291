// The "per_weight" forecaster, in the style of WNN / NiNo: one small MLP (experiment/per_weight_mlp.hpp)
// shared by every weight, which reads one weight's recent steps and predicts its next step.
//
// A window of k snapshots x_0 .. x_{k-1} (x_{k-1} = x_t) gives each weight j its k-1 steps
// d_i[j] = x_{i+1}[j] - x_i[j]. The weights fall into groups (LeNet-5's parameter tensors, or one
// group for any other vector); each group g has a scale per window, s_g = the RMS over the group's
// weights of the last step d_{k-2} (the RMS of all the window's steps where that is zero; 0, a
// frozen group, where those are zero too). One row of the model is
//   [d_0[j] / s_g, ..., d_{k-2}[j] / s_g, one-hot(g) over the G groups]   (F = k - 1 + G features)
// and its output y is the next step in the same units: x_{t+1}[j] = x_t[j] + s_g * y. Dividing by
// the window's own scale makes the model scale-free across training time (late steps are small).
// The output layer starts at zero, so the untrained model predicts "no change" (the last value).
//
// fit(): samples are (train window, weight) pairs. Every sample's row and target is assembled once
// into a table in the backend's memory (train windows x raw_dim rows of F + 1 floats: 125 MB for
// the main job's 39 windows of LeNet-5), and each step gathers a mini-batch from it (gather_rows)
// at rows drawn uniformly with the Rng of Config::random_seed; Adam on the normalized MSE for a
// fixed budget of steps. Every validate_every steps (and before the first) the weight-space
// one-step MSE over every weight of every validation window (a table too), and the parameters of
// the best such point are kept (step 0, the last value, included). The test windows are never
// read. predict(): every weight of every history in passes of inference_rows rows assembled on the
// host; on raw weights (width raw_dim) or on PCA scores (width D: the last k scores mapped to
// weights through the PCA, the prediction mapped back). Every computation of the model runs
// through Backend ops.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/param_layout.hpp"
#include "experiment/forecaster.hpp"

namespace twp {

struct PerWeightOptions {
    int64_t hidden = 32;             // width of both hidden layers
    int64_t batch_size = 4096;       // (window, weight) samples per Adam step
    int64_t steps = 1500;            // Adam steps: a fixed budget
    int64_t validate_every = 100;    // steps between validation passes
    float learning_rate = 1e-3f;
    int64_t inference_rows = 65536;  // rows per forward pass when predicting or validating
};

// The groups the per-weight forecaster scales and one-hot encodes by: LeNet-5's parameter tensors
// (engine/param_layout.hpp's table, experiment/lenet5.hpp) for vectors of its 61,706 weights, else
// one group "all" of raw_dim.
ParamLayout per_weight_groups(int64_t raw_dim);

// The forecaster over the context's data (raw_dim, sequence length) with `groups` (their sizes
// must sum to raw_dim) and `options`, seeded by the context's Config::random_seed. UsageError for
// windows of one snapshot, which have no step to read.
std::unique_ptr<Forecaster> make_per_weight_forecaster(const ForecasterContext& context, ParamLayout groups,
                                                       const PerWeightOptions& options);
// The registered one: per_weight_groups and the default options.
std::unique_ptr<Forecaster> make_per_weight_forecaster(const ForecasterContext& context);

}  // namespace twp
