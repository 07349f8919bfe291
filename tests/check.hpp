// Shared test helpers: seeded random fills, NaN poisoning, and the two comparisons every test
// uses (one implementation each, so every test reports a failure the same way):
// - require_same_bits(actual, expected, what): bit for bit, reporting the first difference;
// - require_close(actual, expected, tolerance, what): within a Tolerance everywhere, reporting the
//   worst index with its absolute and relative error; NaN or Inf anywhere always fails.
// Both name the caller's file and line in their report, and `what` (e.g. "dx") when given.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <source_location>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
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

// max |v[i]| (0 for an empty vector), in double.
template <class T>
double largest_magnitude(const std::vector<T>& v) {
    double largest = 0;
    for (const T& x : v) largest = std::max(largest, std::abs(double(x)));
    return largest;
}

// Largest |a - b| over the largest |b|: how far two fp32 computations of the same tensor that sum
// in different orders are apart, relative to the tensor's scale. a must be finite. (A measure, for
// the whole-backend tests that print or bound it; a per-element check is require_close.)
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

inline std::string describe_call(std::string_view what, const std::source_location& where) {
    std::ostringstream text;
    if (!what.empty()) text << what << ", ";
    text << "checked at " << where.file_name() << ":" << where.line();
    return text.str();
}

// ---- bit for bit ----

// kExact: NaN payloads included (two runs of the same kernel). kAnyNan: any NaN matches any NaN
// (a GPU returns its canonical NaN, not the input's payload, where the CPU keeps the payload).
enum class NanMatch { kExact, kAnyNan };

template <class T>
void require_same_bits(const std::vector<T>& actual, const std::vector<T>& expected,
                       std::string_view what = {}, NanMatch nan = NanMatch::kExact,
                       std::source_location where = std::source_location::current()) {
    static_assert(std::is_trivially_copyable_v<T>, "require_same_bits compares object bytes");
    INFO(describe_call(what, where));
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
        if (std::memcmp(&actual[i], &expected[i], sizeof(T)) == 0) continue;
        if constexpr (std::is_floating_point_v<T>)
            if (nan == NanMatch::kAnyNan && std::isnan(actual[i]) && std::isnan(expected[i])) continue;
        INFO("first difference at " << i << " of " << actual.size() << ": actual " << actual[i]
                                    << ", expected " << expected[i]);
        REQUIRE(false);
    }
}

// ---- within a tolerance ----

// How far actual[i] may be from e = expected[i]:
//   atol + rtol * (|e| + scale[i]) + largest * max_j |expected[j]|.
// Tolerance{rtol, atol} is the usual pair ({} allows no difference); with_scale adds a per-element
// scale, the size of the terms summed into each element, for sums whose rounding error grows with
// the partial sums rather than the result; with_largest an error relative to the tensor's own
// scale, for entries that can cancel to near zero.
struct Tolerance {
    double rtol = 0;
    double atol = 0;
    double largest = 0;
    std::vector<float> scale;  // empty, or one value per element

    Tolerance(double relative = 0, double absolute = 0) : rtol(relative), atol(absolute) {}
    Tolerance with_largest(double fraction) const {
        Tolerance t = *this;
        t.largest = fraction;
        return t;
    }
    Tolerance with_scale(std::vector<float> per_element) const {
        Tolerance t = *this;
        t.scale = std::move(per_element);
        return t;
    }
};

struct Comparison {
    bool ok = true;
    std::string report;
    // The largest |a - e| / tolerance: above 1 fails; inf where a difference is not allowed at all.
    double worst_ratio = 0;
};

template <class A, class E>
Comparison compare(const std::vector<A>& actual, const std::vector<E>& expected,
                   const Tolerance& tolerance) {
    Comparison c;
    std::ostringstream text;
    if (actual.size() != expected.size() ||
        (!tolerance.scale.empty() && tolerance.scale.size() != expected.size())) {
        c.ok = false;
        text << "sizes differ: actual " << actual.size() << ", expected " << expected.size()
             << ", scale " << tolerance.scale.size();
        c.report = text.str();
        return c;
    }
    const double largest = tolerance.largest > 0 ? tolerance.largest * largest_magnitude(expected) : 0.0;
    size_t worst = 0;
    double max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const double a = double(actual[i]), e = double(expected[i]);
        if (!std::isfinite(a) || !std::isfinite(e)) {
            c.ok = false;
            text << "non-finite value at " << i << ": actual " << a << ", expected " << e;
            c.report = text.str();
            return c;
        }
        const double scale = tolerance.scale.empty() ? 0.0 : double(tolerance.scale[i]);
        const double allowed = tolerance.atol + tolerance.rtol * (std::abs(e) + scale) + largest;
        const double abs_error = std::abs(a - e);
        max_abs = std::max(max_abs, abs_error);
        max_rel = std::max(max_rel, abs_error / std::max(std::abs(e), 1e-30));
        if (abs_error > allowed) c.ok = false;
        const double ratio = abs_error == 0 ? 0.0
                             : allowed > 0  ? abs_error / allowed
                                            : std::numeric_limits<double>::infinity();
        if (ratio > c.worst_ratio) {
            c.worst_ratio = ratio;
            worst = i;
        }
    }
    text << "worst index " << worst << " of " << actual.size();
    if (!actual.empty()) {
        text << " (actual " << double(actual[worst]) << ", expected " << double(expected[worst]);
        if (!tolerance.scale.empty()) text << ", scale " << tolerance.scale[worst];
        text << ")";
    }
    text << ", max abs error " << max_abs << ", max rel error " << max_rel
         << ", worst error / tolerance " << c.worst_ratio;
    c.report = text.str();
    return c;
}

// Requires compare(...).ok; returns the comparison (its worst_ratio) for tests that track it.
template <class A, class E>
Comparison require_close(const std::vector<A>& actual, const std::vector<E>& expected,
                         const Tolerance& tolerance, std::string_view what = {},
                         std::source_location where = std::source_location::current()) {
    Comparison c = compare(actual, expected, tolerance);
    INFO(describe_call(what, where));
    INFO(c.report);
    REQUIRE(c.ok);
    return c;
}

}  // namespace twp::test
