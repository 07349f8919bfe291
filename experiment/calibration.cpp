// Coverage, CRPS and the memorization check; see calibration.hpp.
#include "experiment/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.hpp"

namespace twp {

const std::vector<double>& calibration_levels() {
    static const std::vector<double> levels = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
    return levels;
}

double sample_quantile(const float* sorted, int64_t count, double p) {
    TWP_CHECK(count >= 1 && p >= 0 && p <= 1, "a quantile at " << p << " of " << count << " draws");
    const double position = p * double(count + 1);  // 1-based
    if (position <= 1) return sorted[0];
    if (position >= double(count)) return sorted[count - 1];
    const int64_t below = int64_t(std::floor(position));
    const double fraction = position - double(below);
    return sorted[below - 1] + fraction * (double(sorted[below]) - double(sorted[below - 1]));
}

double crps_draws(const float* sorted, int64_t count, double y) {
    TWP_CHECK(count >= 1, "the CRPS of no draws");
    double absolute = 0, spread = 0;
    for (int64_t i = 0; i < count; ++i) {
        absolute += std::fabs(double(sorted[i]) - y);
        // sum over pairs i < j of (x_j - x_i), from the sorted order: x_i appears i times as the
        // larger and count - 1 - i times as the smaller.
        spread += double(sorted[i]) * double(2 * i - count + 1);
    }
    const double n = double(count);
    return absolute / n - spread / (n * n);  // mean|X - X'| / 2 = (2 / n^2) sum_{i<j} (x_j - x_i) / 2
}

double crps_gaussian(double mu, double sigma, double y) {
    if (!(sigma > 0)) return std::fabs(y - mu);
    const double z = (y - mu) / sigma;
    const double pi = 3.14159265358979323846;
    const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * pi);
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / std::sqrt(pi));
}

namespace {

// The two-sided standard normal quantile of a central interval of `level`: Phi^-1((1 + level) / 2),
// by bisection on erfc (to 1e-12; called once per level).
double central_z(double level) {
    double lo = 0, hi = 10;
    for (int i = 0; i < 100; ++i) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < 0.5 * (1 + level) ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

void finish(SpreadScore& s, const std::vector<int64_t>& inside) {
    const std::vector<double>& levels = calibration_levels();
    for (size_t l = 0; l < levels.size(); ++l) {
        s.coverage.push_back(s.values ? double(inside[l]) / double(s.values) : NAN);
        if (levels[l] == 0.5) s.coverage50 = s.coverage.back();
        if (levels[l] == 0.9) s.coverage90 = s.coverage.back();
    }
    s.crps = s.values ? s.crps / double(s.values) : NAN;
}

}  // namespace

SpreadScore score_draws(const float* draws, const float* truth, int64_t n, int64_t samples, int64_t dim) {
    TWP_CHECK(samples >= 1, "scoring draws needs at least one draw");
    const std::vector<double>& levels = calibration_levels();
    SpreadScore s;
    std::vector<int64_t> inside(levels.size(), 0);
    std::vector<float> column(samples);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < dim; ++c) {
            for (int64_t k = 0; k < samples; ++k) column[k] = draws[(i * samples + k) * dim + c];
            std::sort(column.begin(), column.end());
            const double y = truth[i * dim + c];
            for (size_t l = 0; l < levels.size(); ++l) {
                const double low = sample_quantile(column.data(), samples, 0.5 - levels[l] / 2);
                const double high = sample_quantile(column.data(), samples, 0.5 + levels[l] / 2);
                inside[l] += y >= low && y <= high;
            }
            s.crps += crps_draws(column.data(), samples, y);
            ++s.values;
        }
    finish(s, inside);
    return s;
}

SpreadScore score_gaussian(const float* mean, const std::vector<double>& sd, const float* truth, int64_t n, int64_t dim) {
    TWP_CHECK(int64_t(sd.size()) == dim, "a Gaussian of " << sd.size() << " standard deviations for " << dim << " components");
    const std::vector<double>& levels = calibration_levels();
    std::vector<double> z;
    for (double level : levels) z.push_back(central_z(level));
    SpreadScore s;
    std::vector<int64_t> inside(levels.size(), 0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < dim; ++c) {
            const double mu = mean[i * dim + c], y = truth[i * dim + c];
            for (size_t l = 0; l < levels.size(); ++l) inside[l] += std::fabs(y - mu) <= z[l] * sd[c];
            s.crps += crps_gaussian(mu, sd[c], y);
            ++s.values;
        }
    finish(s, inside);
    return s;
}

Memorization memorization(const float* draws, const float* truth, int64_t n, int64_t samples, int64_t dim,
                          const std::vector<float>& training) {
    const int64_t m = int64_t(training.size()) / std::max<int64_t>(dim, 1);
    TWP_CHECK(m >= 1 && dim >= 1, "the memorization check needs training snapshots");
    const auto nearest = [&](const float* v) {
        double best = std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < m; ++j) {
            double sum = 0;
            for (int64_t c = 0; c < dim; ++c) {
                const double diff = double(v[c]) - double(training[j * dim + c]);
                sum += diff * diff;
            }
            best = std::min(best, sum);
        }
        return std::sqrt(best);
    };
    Memorization result;
    int64_t closer = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double t = nearest(truth + i * dim);
        result.truth_distance += t;
        for (int64_t k = 0; k < samples; ++k) {
            const double d = nearest(draws + (i * samples + k) * dim);
            result.draw_distance += d;
            closer += d < t;
        }
    }
    if (n > 0) {
        result.truth_distance /= double(n);
        result.draw_distance /= double(n * samples);
        result.closer_fraction = double(closer) / double(n * samples);
    }
    return result;
}

}  // namespace twp
