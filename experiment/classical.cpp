// The classical baselines' shared pieces; see classical.hpp.
#include "experiment/classical.hpp"

#include <cmath>
#include <cstdio>

#include "engine/error.hpp"

namespace twp::classical {

const std::vector<Window>& selection_windows(const PredictorData& data, std::string& chosen_on) {
    TWP_CHECK(!data.train_windows.empty(), "a classical baseline is fitted on train windows: there are none");
    if (!data.validation_windows.empty()) {
        chosen_on = "validation";
        return data.validation_windows;
    }
    chosen_on = "train (no validation windows)";
    return data.train_windows;
}

double damped_sum(double phi, int steps) {
    double sum = 0, power = 1;
    for (int h = 0; h < steps; ++h) {
        power *= phi;
        sum += power;
    }
    return sum;
}

const std::vector<double>& ridge_relative_lambdas() {
    static const std::vector<double> lambdas = [] {
        std::vector<double> l;
        for (int i = 0; i <= 18; ++i) l.push_back(std::pow(10.0, -6.0 + 0.5 * i));
        return l;
    }();
    return lambdas;
}

bool cholesky_solve(int64_t n, double* a, double* b, int64_t rhs) {
    // a = l lᵀ, l overwriting the lower triangle.
    for (int64_t j = 0; j < n; ++j) {
        double diagonal = a[j * n + j];
        for (int64_t k = 0; k < j; ++k) diagonal -= a[j * n + k] * a[j * n + k];
        if (!(diagonal > 0) || !std::isfinite(diagonal)) return false;
        const double l_jj = std::sqrt(diagonal);
        a[j * n + j] = l_jj;
        for (int64_t i = j + 1; i < n; ++i) {
            double v = a[i * n + j];
            for (int64_t k = 0; k < j; ++k) v -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = v / l_jj;
        }
    }
    // l z = b, then lᵀ x = z, for every right-hand side at once.
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t k = 0; k < i; ++k)
            for (int64_t c = 0; c < rhs; ++c) b[i * rhs + c] -= a[i * n + k] * b[k * rhs + c];
        for (int64_t c = 0; c < rhs; ++c) b[i * rhs + c] /= a[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; --i) {
        for (int64_t k = i + 1; k < n; ++k)
            for (int64_t c = 0; c < rhs; ++c) b[i * rhs + c] -= a[k * n + i] * b[k * rhs + c];
        for (int64_t c = 0; c < rhs; ++c) b[i * rhs + c] /= a[i * n + i];
    }
    return true;
}

std::vector<double> ridge_solve(const std::vector<double>& x, const std::vector<double>& y, int64_t rows,
                                int64_t cols, int64_t outs, double lambda) {
    TWP_CHECK(lambda > 0 && rows >= 1 && cols >= 1 && outs >= 1, "ridge regression with lambda " << lambda << " on "
                                                                  << rows << " x " << cols << " -> " << outs);
    TWP_CHECK(int64_t(x.size()) == rows * cols && int64_t(y.size()) == rows * outs, "ridge regression: sizes");
    std::vector<double> w(cols * outs, 0.0);
    if (rows < cols) {
        // Dual: w = xᵀ (x xᵀ + lambda I)⁻¹ y, a rows x rows system (few windows, many lags).
        std::vector<double> gram(rows * rows), a = y;
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j <= i; ++j) {
                double v = 0;
                for (int64_t c = 0; c < cols; ++c) v += x[i * cols + c] * x[j * cols + c];
                gram[i * rows + j] = gram[j * rows + i] = v;
            }
        for (int64_t i = 0; i < rows; ++i) gram[i * rows + i] += lambda;
        TWP_CHECK(cholesky_solve(rows, gram.data(), a.data(), outs),
                  "ridge regression: the regularized Gram matrix is not positive definite (lambda " << lambda << ")");
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t c = 0; c < cols; ++c)
                for (int64_t o = 0; o < outs; ++o) w[c * outs + o] += x[i * cols + c] * a[i * outs + o];
        return w;
    }
    // Primal: (xᵀ x + lambda I) w = xᵀ y.
    std::vector<double> gram(cols * cols, 0.0);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t a = 0; a < cols; ++a) {
            const double xa = x[i * cols + a];
            for (int64_t b = 0; b <= a; ++b) gram[a * cols + b] += xa * x[i * cols + b];
            for (int64_t o = 0; o < outs; ++o) w[a * outs + o] += xa * y[i * outs + o];
        }
    for (int64_t a = 0; a < cols; ++a) gram[a * cols + a] += lambda;
    TWP_CHECK(cholesky_solve(cols, gram.data(), w.data(), outs),
              "ridge regression: the regularized Gram matrix is not positive definite (lambda " << lambda << ")");
    return w;
}

std::string fact_number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", value);
    return text;
}

void delta(const float* series, int64_t width, int64_t t, double* out) {
    const float* current = series + t * width;
    const float* previous = current - width;
    for (int64_t j = 0; j < width; ++j) out[j] = double(current[j]) - double(previous[j]);
}

}  // namespace twp::classical
