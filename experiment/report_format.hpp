// How the results files spell numbers: JSON values (NaN, which JSON cannot spell, as null), a
// figure with its 95% interval, and text columns. Shared by the experiment's, the study's and
// the nowcast's outputs.
#pragma once

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/statistics.hpp"

namespace twp::report {

using Json = nlohmann::ordered_json;

inline Json number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

inline Json numbers(const std::vector<double>& values) {
    Json array = Json::array();
    for (double v : values) array.push_back(number(v));
    return array;
}

inline Json interval_json(const Interval& i) {
    return {{"mean", number(i.mean)}, {"low", number(i.low)}, {"high", number(i.high)}, {"repeats", i.count}};
}

// `value` through a printf format of one double; "n/a" when it is not finite.
inline std::string format(const char* spec, double value) {
    if (!std::isfinite(value)) return "n/a";
    char text[64];
    std::snprintf(text, sizeof text, spec, value);
    return text;
}

// "2.93e-04 [2.10e-04, 3.70e-04]", or the mean alone with one value.
inline std::string interval_text(const Interval& i, const char* spec) {
    if (!std::isfinite(i.low)) return format(spec, i.mean);
    return format(spec, i.mean) + " [" + format(spec, i.low) + ", " + format(spec, i.high) + "]";
}

inline std::string padded_right(const std::string& text, size_t width) {
    return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace twp::report
