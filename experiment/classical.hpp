// What the classical baselines (damped_trend.cpp, smoothing.cpp, ar.cpp, ar_weight.cpp) share:
// which windows their hyperparameters are chosen on, the damped h-step sum, a ridge solver in
// double, and how a fitted number is written into a ForecasterFact. They are fitted on the train
// windows only; what they choose, they choose on the validation windows (on the train windows when
// there are none, and their facts say so); none reads the test windows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/feature_space.hpp"
#include "experiment/forecaster.hpp"

namespace twp::classical {

// The windows hyperparameters are chosen on: the validation windows, or the train windows when
// there are none. `chosen_on` receives "validation" or "train (no validation windows)".
const std::vector<Window>& selection_windows(const PredictorData& data, std::string& chosen_on);

// phi + phi^2 + ... + phi^steps: how many last steps a damped trend adds over `steps` steps.
double damped_sum(double phi, int steps);

// The ridge penalties tried, relative to trace(XᵀX) / columns: 10^-6, 10^-5.5, ..., 10^3.
const std::vector<double>& ridge_relative_lambdas();

// Solves a x = b in place for the symmetric positive definite a[n, n] (row-major, lower triangle
// read, destroyed) and b[n, rhs] (row-major, overwritten by x), by Cholesky in double. Returns
// false, leaving b undefined, when a is not numerically positive definite.
bool cholesky_solve(int64_t n, double* a, double* b, int64_t rhs);

// Ridge regression without intercept (centre the data first for an unpenalized bias):
// w[cols, outs] minimizing |y - x w|² + lambda |w|², for x[rows, cols] and y[rows, outs].
// lambda > 0. Solved in the smaller of the primal (cols x cols) and dual (rows x rows) forms.
std::vector<double> ridge_solve(const std::vector<double>& x, const std::vector<double>& y, int64_t rows,
                                int64_t cols, int64_t outs, double lambda);

// "0.6213", "1.2e-05": a fitted number for the facts, to 4 significant digits.
std::string fact_number(double value);

// The one-step deltas of row t of series[count, width]: out[width] = x_t - x_{t-1} (t >= 1).
void delta(const float* series, int64_t width, int64_t t, double* out);

}  // namespace twp::classical
