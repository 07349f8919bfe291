// Numbers as the trainers write and check them: text that reads back exactly (settings and
// checkpoint metadata), text for messages, and the scan for the first NaN or infinity.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace twp {

// The shortest text that reads back as exactly this float ("0.005", not "0.00499999989").
inline std::string float_text(float value) {
    char text[32];
    for (int digits = 6; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, double(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

// `value` through a printf format of one double ("%g" for messages, "%.17g" to read back exactly).
inline std::string number_text(double value, const char* format = "%g") {
    char text[40];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// The index of the first value that is NaN or infinite, or -1.
inline int64_t first_non_finite(const float* values, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) return i;
    return -1;
}

}  // namespace twp
