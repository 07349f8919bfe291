// Scores of a forecast distribution, for the sampling forecasters (diffusion) and the Gaussian
// baseline beside them: per component of every test window's next vector (PCA space),
// - coverage: the fraction of true values inside the central interval of each level (50%: the
//   draws' 25% to 75% quantiles; 90%: 5% to 95%). Quantiles of S draws at the Weibull positions
//   p (S + 1) (Hyndman & Fan's type 6), for which a draw and the truth from one distribution land
//   inside at the nominal rate in expectation; the common (S - 1) p + 1 (type 7) would cover 84.5%
//   at "90%" with 32 perfect draws.
// - CRPS, the continuous ranked probability score, in the units of the values: for draws the
//   ensemble estimator mean|X - y| - mean|X - X'| / 2 (over all pairs, X = X' included), for a
//   Gaussian the closed form sigma (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)), z = (y - mu) / sigma.
//   Lower is better; a point forecast's CRPS is its absolute error.
// - memorization (Zeng et al. 2025): the distance from each draw to the nearest training
//   snapshot, against the distance from the true next snapshot to it.
#pragma once

#include <cstdint>
#include <vector>

namespace twp {

// The central interval levels a calibration curve is drawn at, 0.1 .. 0.9 and 0.95.
const std::vector<double>& calibration_levels();

struct SpreadScore {
    std::vector<double> coverage;  // [level] of calibration_levels(): observed fraction inside
    double coverage50 = 0, coverage90 = 0;
    double crps = 0;               // mean over windows and components
    int64_t values = 0;            // windows x components scored
};

// The quantile at probability p of `sorted` (ascending, S >= 1 values), type 6, clamped to the
// smallest and largest draw.
double sample_quantile(const float* sorted, int64_t count, double p);
// The ensemble CRPS of `sorted` draws for the truth y.
double crps_draws(const float* sorted, int64_t count, double y);
// The CRPS of N(mu, sigma^2) for y; sigma 0 is a point forecast (|y - mu|).
double crps_gaussian(double mu, double sigma, double y);

// draws [n, S, D] against truth [n, D].
SpreadScore score_draws(const float* draws, const float* truth, int64_t n, int64_t samples, int64_t dim);
// N(mean [n, D], sd [D]^2) per component against truth [n, D].
SpreadScore score_gaussian(const float* mean, const std::vector<double>& sd, const float* truth, int64_t n, int64_t dim);

struct Memorization {
    double draw_distance = 0;    // mean over windows and draws: Euclidean distance to the nearest training snapshot
    double truth_distance = 0;   // mean over windows: the same for the true next snapshot
    double closer_fraction = 0;  // of draws nearer a training snapshot than their window's truth is
};
// draws [n, S, D], truth [n, D], training [m, D] (m >= 1).
Memorization memorization(const float* draws, const float* truth, int64_t n, int64_t samples, int64_t dim,
                          const std::vector<float>& training);

}  // namespace twp
