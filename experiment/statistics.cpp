// Intervals and the paired bootstrap; see statistics.hpp.
#include "experiment/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.hpp"
#include "engine/random.hpp"

namespace twp {

double t_quantile_975(int degrees) {
    TWP_CHECK(degrees >= 1, "a t quantile needs at least one degree of freedom, got " << degrees);
    static const double table[] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
                                   2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
                                   2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
    if (degrees <= 30) return table[degrees - 1];
    // Beyond the table: the normal quantile with the first correction term of the expansion in 1/nu.
    const double z = 1.959964;
    return z + (z * z * z + z) / (4.0 * degrees);
}

Interval mean_interval(const std::vector<double>& values) {
    Interval r;
    double sum = 0;
    for (double v : values)
        if (std::isfinite(v)) {
            sum += v;
            ++r.count;
        }
    r.mean = r.count ? sum / r.count : NAN;
    r.low = r.high = NAN;
    if (r.count < 2) return r;
    double squares = 0;
    for (double v : values)
        if (std::isfinite(v)) squares += (v - r.mean) * (v - r.mean);
    const double half = t_quantile_975(r.count - 1) * std::sqrt(squares / (r.count - 1) / r.count);
    r.low = r.mean - half;
    r.high = r.mean + half;
    return r;
}

namespace {

// Sums of a circular block resample of one stratum, blocks of `block` consecutive windows.
void add_block_resample(const std::vector<double>& errors, const std::vector<double>& reference, size_t block,
                        Rng& rng, double& sum, double& sum_reference) {
    const size_t n = errors.size();
    for (size_t taken = 0; taken < n;) {
        const size_t start = rng.below(uint32_t(n));
        for (size_t i = 0; i < block && taken < n; ++i, ++taken) {
            sum += errors[(start + i) % n];
            sum_reference += reference[(start + i) % n];
        }
    }
}

}  // namespace

RatioVerdict ratio_to_reference(const PairedErrors& p, uint64_t seed, int resamples) {
    TWP_CHECK(p.errors.size() == p.reference.size() && p.errors.size() == p.group.size(),
              "paired errors need one reference and one group per stratum");
    RatioVerdict v;
    v.ratio = v.low = v.high = NAN;
    v.verdict = "n/a";
    double sum = 0, sum_reference = 0;
    std::vector<int> groups;
    for (size_t s = 0; s < p.errors.size(); ++s) {
        TWP_CHECK(p.errors[s].size() == p.reference[s].size(), "paired errors: stratum " << s << " differs in length");
        for (size_t i = 0; i < p.errors[s].size(); ++i) {
            sum += p.errors[s][i];
            sum_reference += p.reference[s][i];
        }
        if (std::find(groups.begin(), groups.end(), p.group[s]) == groups.end()) groups.push_back(p.group[s]);
    }
    if (!(sum_reference > 0) || !std::isfinite(sum)) return v;
    v.ratio = sum / sum_reference;
    std::vector<std::vector<size_t>> strata_of(groups.size());
    for (size_t s = 0; s < p.group.size(); ++s)
        strata_of[std::find(groups.begin(), groups.end(), p.group[s]) - groups.begin()].push_back(s);

    Rng rng(seed, RngStream::kBootstrap);
    std::vector<double> ratios;
    ratios.reserve(size_t(resamples));
    for (int b = 0; b < resamples; ++b) {
        double s_sum = 0, s_reference = 0;
        for (size_t g = 0; g < groups.size(); ++g) {
            // Whole repeats are drawn when there are several; a single one is kept.
            const size_t chosen = groups.size() > 1 ? rng.below(uint32_t(groups.size())) : g;
            for (const size_t s : strata_of[chosen]) {
                const size_t n = p.errors[s].size();
                if (n == 0) continue;
                const size_t block = std::max<size_t>(1, size_t(std::lround(std::cbrt(double(n)))));
                add_block_resample(p.errors[s], p.reference[s], block, rng, s_sum, s_reference);
            }
        }
        if (s_reference > 0) ratios.push_back(s_sum / s_reference);
    }
    v.resamples = int(ratios.size());
    if (ratios.empty()) return v;
    std::sort(ratios.begin(), ratios.end());
    const auto quantile = [&](double q) {
        const double at = q * double(ratios.size() - 1);
        const size_t i = size_t(at);
        const double t = at - double(i);
        return i + 1 < ratios.size() ? ratios[i] * (1 - t) + ratios[i + 1] * t : ratios[i];
    };
    v.low = quantile(0.025);
    v.high = quantile(0.975);
    v.verdict = v.high < 1 ? "yes" : v.low > 1 ? "no" : "not significant";
    return v;
}

std::string verdict_phrase(const RatioVerdict& v) { return "beats last value: " + v.verdict; }

std::string verdict_line(const std::string& noun, const RatioVerdict& v) {
    const auto text = [](double value) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.4g", value);
        return std::string(buffer);
    };
    if (!std::isfinite(v.ratio)) return "  -> " + noun + ": no verdict (" + v.verdict + ")\n";
    std::string line = "  -> " + noun + ": " + text(v.ratio) + "x last value's weight-space MSE";
    if (std::isfinite(v.low)) line += " [95%: " + text(v.low) + ", " + text(v.high) + "]";
    line += "; " + verdict_phrase(v);
    if (v.verdict == "no")
        line += " (it LOSES to repeating the last snapshot)";
    else if (v.verdict == "not significant")
        line += v.low == 1 && v.high == 1 ? " (it forecasts what last value does)"
                : v.ratio < 1             ? " (lower on average, within the noise)"
                                          : " (higher on average, within the noise)";
    return line + "\n";
}

}  // namespace twp
