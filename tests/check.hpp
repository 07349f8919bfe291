// Shared test helpers: seeded random fills, NaN poisoning, and a comparison that reports the worst
// index with its absolute and relative error (NaN or Inf anywhere always fails).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/random.hpp"

namespace twp::test {

template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed, double bound = 1.0) {
    Rng rng(seed, RngStream::kInit);
    std::vector<T> v(n);
    for (T& x : v) x = T(rng.uniform(float(bound)));
    return v;
}

// Largest |a - b| over the largest |b|: how far two fp32 computations of the same tensor that sum
// in different orders are apart, relative to the tensor's scale. a must be finite.
inline double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double difference = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        REQUIRE(std::isfinite(a[i]));
        difference = std::max(difference, std::abs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::abs(double(b[i])));
    }
    return scale > 0 ? difference / scale : difference;
}

template <class T>
void poison(std::vector<T>& v) {
    for (T& x : v) x = std::numeric_limits<T>::quiet_NaN();
}

struct Comparison {
    bool ok = true;
    std::string report;
};

// |actual - expected| <= atol + rtol * |expected| everywhere.
template <class A, class E>
Comparison compare(const std::vector<A>& actual, const std::vector<E>& expected, double rtol,
                   double atol) {
    Comparison c;
    std::ostringstream text;
    if (actual.size() != expected.size()) {
        c.ok = false;
        text << "sizes differ: " << actual.size() << " vs " << expected.size();
        c.report = text.str();
        return c;
    }
    size_t worst = 0;
    double worst_excess = -1, max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const double a = double(actual[i]), e = double(expected[i]);
        if (!std::isfinite(a) || !std::isfinite(e)) {
            c.ok = false;
            text << "non-finite value at " << i << ": actual " << a << ", expected " << e;
            c.report = text.str();
            return c;
        }
        const double abs_error = std::abs(a - e);
        const double rel_error = abs_error / std::max(std::abs(e), 1e-30);
        max_abs = std::max(max_abs, abs_error);
        max_rel = std::max(max_rel, rel_error);
        const double excess = abs_error - (atol + rtol * std::abs(e));
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    c.ok = worst_excess <= 0;
    text << "worst index " << worst << " (actual " << double(actual[worst]) << ", expected "
         << double(expected[worst]) << "), max abs error " << max_abs << ", max rel error "
         << max_rel;
    c.report = text.str();
    return c;
}

#define REQUIRE_CLOSE(actual, expected, rtol, atol)                                         \
    do {                                                                                    \
        const auto twp_cmp_ = ::twp::test::compare((actual), (expected), (rtol), (atol));   \
        INFO(twp_cmp_.report);                                                              \
        REQUIRE(twp_cmp_.ok);                                                               \
    } while (0)

}  // namespace twp::test
