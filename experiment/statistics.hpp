// The statistics the results report, so that a figure carries its spread:
// - mean_interval: the mean of a figure over repeats with its 95% Student-t interval;
// - ratio_to_reference: a forecaster's summed squared error over the test windows divided by the
//   reference's (last value) on the same windows, with a 95% bootstrap interval that is paired
//   (both resampled together), keeps the repeats apart (a resample draws whole repeats), and
//   respects the correlation of neighbouring windows of a run (a circular block bootstrap within
//   each run), and the verdict it supports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace twp {

struct Interval {
    double mean = 0, low = 0, high = 0;  // low and high NaN with fewer than two values
    int count = 0;                       // finite values used; mean NaN when 0
};

// The 0.975 quantile of Student's t with `degrees` degrees of freedom (>= 1).
double t_quantile_975(int degrees);

// Mean and mean +- t * sd / sqrt(n) over the finite values.
Interval mean_interval(const std::vector<double>& values);

// One forecaster against the reference on the same windows: [stratum][window] errors, a stratum
// being one run of one repeat (or fold), and each stratum's group (its repeat).
struct PairedErrors {
    std::vector<std::vector<double>> errors, reference;
    std::vector<int> group;
};

struct RatioVerdict {
    double ratio = 0, low = 0, high = 0;  // NaN where undefined
    int resamples = 0;
    std::string verdict;  // "yes" (high < 1), "no" (low > 1), "not significant", "n/a"
};

RatioVerdict ratio_to_reference(const PairedErrors& paired, uint64_t seed, int resamples = 2000);

// The verdict in the summary's words: "beats last value: yes".
std::string verdict_phrase(const RatioVerdict& v);
// A summary line: "  -> the transformer: 0.93x last value's weight-space MSE [95%: 0.88, 0.98];
// beats last value: yes", a loss said as one.
std::string verdict_line(const std::string& noun, const RatioVerdict& v);

}  // namespace twp
