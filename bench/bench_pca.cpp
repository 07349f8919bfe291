// PCA fit time on LeNet-5-sized snapshots (d = 61,706), and the measurement behind the choice of
// method in engine/pca.cpp.
//
// Data: a seeded random walk, shaped like a training trajectory: x[0] uniform in +-0.1, then
// x[t] = x[t-1] + 0.01 · s_t · uniform(-1, 1) with a step scale s_t = 1 / sqrt(1 + t / 100) that
// shrinks as training settles (bench/bench_pca_sklearn.py draws the same formula with numpy).
// A random walk's spectrum decays like 1/i², so the small components are there to be lost.
//
// Default mode: fit_pca(k = min(500, n)) for each n; a fit longer than 10 s is timed once (its
// warm-up effects are noise at that length), shorter ones warm up once and report the median of 3.
// The machine's limit is measured in the same run: a large DGEMM (dgemm_gflops) and a DSYRK of the
// Gram step's shape (dsyrk_gflops; its flops counted as n²k, the half it computes). Per size:
// - fit_gflops / fit_fraction_of_dgemm: the fit's BLAS-3 flops (n²d Gram + 2nkd components + k²d
//   check) over its time, and that over the DGEMM rate;
// - floor_s: the floor, the Gram at the DSYRK rate plus the components at the DGEMM rate
//   (n²d / dsyrk + 2nkd / dgemm), and fit_fraction_of_floor = floor_s / fit_s (1 = at the floor);
// - stages_s: the last timed fit's stages: means, gram_eigen (the Gram matrix and dsyevd),
//   components (Xcᵀ u / σ), host (fit_pca's own steps: orthonormality check and repair, sign rule).
// Prints one JSON object.
//
// --compare-svd: for each n, the Gram method (fit_pca) against LAPACK's SVD of the centered data,
// sgesdd (float) and dgesdd (double, the reference for accuracy): seconds, and over the first
// min(500, n) components the worst relative error of the explained variance and the worst
// |1 - |cos(angle)|| of a component against dgesdd's (or, where dgesdd is skipped, sgesdd's
// against the Gram method's). An SVD is skipped at a size where its previous time, scaled by
// (n / n_previous)², predicts more than --time-limit seconds; the Gram method always runs.
//
// usage: bench_pca [--sizes 200,1000,4000] [--components 500] [--threads N] [--dim 61706]
//                  [--compare-svd] [--time-limit 120]
#include <lapacke.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/blas.hpp"
#include "engine/error.hpp"
#include "engine/pca.hpp"
#include "engine/pca_solver.hpp"
#include "engine/random.hpp"
#include "bench/pca_inputs.hpp"

using namespace twp;

namespace {

double seconds_of(const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Median seconds per call: once when a call takes over 10 s, else a warm-up and 3 repeats.
double median_seconds(const std::function<void()>& run) {
    const double first = seconds_of(run);
    if (first > 10.0) return first;
    std::vector<double> times;
    for (int r = 0; r < 3; ++r) times.push_back(seconds_of(run));
    std::sort(times.begin(), times.end());
    return times[1];
}

// GFLOP/s of a 4096 x 4096 x 4096 DGEMM, best of 3: the machine's practical BLAS-3 limit here
// (the best, because other work on a shared machine only ever slows it down).
double dgemm_gflops() {
    const int64_t size = 4096;
    std::vector<double> a(size * size, 0.5), b(size * size, 0.25), c(size * size);
    blas::gemm(false, false, 256, 256, 256, 1.0, a.data(), size, b.data(), size, 0.0, c.data(),
               size);  // warm-up: thread start
    double best = 1e30;
    for (int repeat = 0; repeat < 3; ++repeat)
        best = std::min(best, seconds_of([&] {
                            blas::gemm(false, false, size, size, size, 1.0, a.data(), size,
                                       b.data(), size, 0.0, c.data(), size);
                        }));
    return 2.0 * double(size) * size * size / best / 1e9;
}

// GFLOP/s of the Gram step's DSYRK (n = 2000 rows, 8192 columns, the n²k flops it does), best of 3.
double dsyrk_gflops() {
    const int64_t n = 2000, k = 8192;
    std::vector<double> a(n * k, 0.5), c(n * n, 0.0);
    blas::syrk_lower(256, 256, 1.0, a.data(), k, 0.0, c.data(), n);  // warm-up
    double best = 1e30;
    for (int repeat = 0; repeat < 3; ++repeat)
        best = std::min(best, seconds_of([&] {
                            blas::syrk_lower(n, k, 1.0, a.data(), k, 0.0, c.data(), n);
                        }));
    return double(n) * n * k / best / 1e9;
}

// The CPU solver with each call timed: where a fit spends its time, without touching the engine.
class TimedSolver final : public PcaSolver {
public:
    struct Stages {
        double means = 0, gram_eigen = 0, components = 0;
    };
    const Stages& stages() const { return stages_; }

    std::string name() const override { return inner_->name(); }
    std::vector<double> center(const float* x, int64_t n, int64_t d) override {
        stages_ = {};
        std::vector<double> mean;
        stages_.means = seconds_of([&] { mean = inner_->center(x, n, d); });
        return mean;
    }
    Eigenpairs largest_eigenpairs(int64_t count) override {
        Eigenpairs result;
        stages_.gram_eigen = seconds_of([&] { result = inner_->largest_eigenpairs(count); });
        return result;
    }
    void components(int64_t rank, float* basis) override {
        stages_.components = seconds_of([&] { inner_->components(rank, basis); });
    }
    void transform(const PcaModel& model, const float* x, int64_t rows, float* scores) override {
        inner_->transform(model, x, rows, scores);
    }
    void inverse_transform(const PcaModel& model, const float* scores, int64_t rows,
                           float* x) override {
        inner_->inverse_transform(model, scores, rows, x);
    }

private:
    std::unique_ptr<PcaSolver> inner_ = make_cpu_pca_solver();
    Stages stages_;
};

// The first `count` principal axes and eigenvalues of some method, for the accuracy comparison.
struct Axes {
    std::vector<double> vectors;   // [count, d], unit rows
    std::vector<double> variance;  // [count], explained variance
};

// SVD of the centered data through LAPACK. The row-major centered x[n, d] is, read column-major,
// Xcᵀ [d, n], whose left singular vectors (contiguous columns of u [d, n]) are the principal axes.
template <class T>
Axes svd_axes(const std::vector<float>& x, int64_t n, int64_t d, int64_t count, double& seconds) {
    std::vector<double> mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) mean[j] += x[i * d + j];
    for (double& m : mean) m /= double(n);
    std::vector<T> a(n * d), s(n), u(d * n), vt(n * n);
    lapack_int info = 0;
    seconds = seconds_of([&] {
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < d; ++j) a[i * d + j] = T(double(x[i * d + j]) - mean[j]);
        if constexpr (std::is_same_v<T, float>)
            info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'S', lapack_int(d), lapack_int(n), a.data(),
                                  lapack_int(d), s.data(), u.data(), lapack_int(d), vt.data(),
                                  lapack_int(n));
        else
            info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', lapack_int(d), lapack_int(n), a.data(),
                                  lapack_int(d), s.data(), u.data(), lapack_int(d), vt.data(),
                                  lapack_int(n));
    });
    TWP_CHECK(info == 0, "gesdd failed with info " << info);
    Axes axes;
    axes.vectors.assign(u.begin(), u.begin() + count * d);
    for (int64_t i = 0; i < count; ++i)
        axes.variance.push_back(double(s[i]) * double(s[i]) / double(n - 1));
    return axes;
}

Axes model_axes(const PcaModel& model, int64_t count) {
    Axes axes;
    axes.vectors.assign(model.basis.begin(), model.basis.begin() + count * model.dim);
    axes.variance.assign(model.explained_variance.begin(),
                         model.explained_variance.begin() + count);
    return axes;
}

// Worst relative variance error and worst 1 - |cos| of an axis, against the reference.
std::pair<double, double> axis_errors(const Axes& axes, const Axes& reference, int64_t d) {
    double variance_error = 0, angle_error = 0;
    for (size_t i = 0; i < reference.variance.size(); ++i) {
        variance_error = std::max(variance_error, std::abs(axes.variance[i] - reference.variance[i]) /
                                                      reference.variance[i]);
        double dot = 0, norm_a = 0, norm_r = 0;
        for (int64_t j = 0; j < d; ++j) {
            dot += axes.vectors[i * d + j] * reference.vectors[i * d + j];
            norm_a += axes.vectors[i * d + j] * axes.vectors[i * d + j];
            norm_r += reference.vectors[i * d + j] * reference.vectors[i * d + j];
        }
        angle_error = std::max(angle_error, 1.0 - std::abs(dot) / std::sqrt(norm_a * norm_r));
    }
    return {variance_error, angle_error};
}

void compare_svd(const std::vector<int64_t>& sizes, int64_t d, int64_t max_components,
                 double time_limit) {
    std::map<std::string, std::pair<int64_t, double>> last;  // method -> (n, seconds)
    const auto predicted_too_slow = [&](const std::string& method, int64_t n) {
        const auto it = last.find(method);
        if (it == last.end()) return false;
        const double ratio = double(n) / double(it->second.first);
        return it->second.second * ratio * ratio > time_limit;
    };
    std::printf("[");
    for (size_t size_index = 0; size_index < sizes.size(); ++size_index) {
        const int64_t n = sizes[size_index], count = std::min(max_components, n - 1);
        const std::vector<float> x = bench::random_walk(n, d, 7);
        std::printf("%s\n  {\"n\": %lld, \"d\": %lld, \"compared_components\": %lld",
                    size_index ? "," : "", (long long)n, (long long)d, (long long)count);
        std::map<std::string, Axes> results;
        {
            PcaModel model;
            const double seconds =
                seconds_of([&] { model = fit_pca(x.data(), n, d, max_components); });
            results["gram"] = model_axes(model, count);
            std::printf(", \"gram_double_s\": %.2f", seconds);
        }
        std::fflush(stdout);
        for (const std::string method : {"sgesdd", "dgesdd"}) {
            if (predicted_too_slow(method, n)) {
                std::printf(", \"%s_s\": \"skipped (predicted > %.0f s)\"", method.c_str(),
                            time_limit);
                continue;
            }
            double seconds = 0;
            results[method] = method == "sgesdd" ? svd_axes<float>(x, n, d, count, seconds)
                                                 : svd_axes<double>(x, n, d, count, seconds);
            last[method] = {n, seconds};
            std::printf(", \"%s_s\": %.2f", method.c_str(), seconds);
            std::fflush(stdout);
        }
        const auto reference = results.find("dgesdd");
        for (const auto& [method, axes] : results) {
            if (reference == results.end() || method == "dgesdd") continue;
            const auto [variance_error, angle_error] = axis_errors(axes, reference->second, d);
            std::printf(", \"%s_vs_dgesdd\": {\"max_rel_variance_error\": %.2e, "
                        "\"max_one_minus_cos\": %.2e}",
                        method.c_str(), variance_error, angle_error);
        }
        if (reference == results.end() && results.count("gram") && results.count("sgesdd")) {
            const auto [variance_error, angle_error] =
                axis_errors(results["sgesdd"], results["gram"], d);
            std::printf(", \"sgesdd_vs_gram\": {\"max_rel_variance_error\": %.2e, "
                        "\"max_one_minus_cos\": %.2e}",
                        variance_error, angle_error);
        }
        std::printf("}");
        std::fflush(stdout);
    }
    std::printf("\n]\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::string sizes_text = "200,1000,4000";
    int64_t components = 500, d = 61706;
    int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    bool svd = false;
    double time_limit = 120;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const bool has_value = i + 1 < argc;
        if (flag == "--compare-svd") svd = true;
        else if (flag == "--sizes" && has_value) sizes_text = argv[++i];
        else if (flag == "--components" && has_value) components = std::atoll(argv[++i]);
        else if (flag == "--threads" && has_value) threads = std::atoi(argv[++i]);
        else if (flag == "--dim" && has_value) d = std::atoll(argv[++i]);
        else if (flag == "--time-limit" && has_value) time_limit = std::atof(argv[++i]);
        else {
            std::fprintf(stderr, "bench_pca: unknown or incomplete flag \"%s\"; see the usage at "
                                 "the top of bench/bench_pca.cpp\n", flag.c_str());
            return 2;
        }
    }
    try {
        TWP_CHECK(components >= 1 && d >= 1 && threads >= 1,
                  "--components, --dim and --threads must be positive");
        const std::vector<int64_t> sizes = bench::parse_sizes(sizes_text);
        blas::set_blas_threads(threads);
        if (svd) {
            compare_svd(sizes, d, components, time_limit);
            return 0;
        }
        const double machine_gflops = dgemm_gflops(), syrk_gflops = dsyrk_gflops();
        std::printf("{\"threads\": %d, \"d\": %lld, \"dgemm_gflops\": %.1f, "
                    "\"dsyrk_gflops\": %.1f",
                    threads, (long long)d, machine_gflops, syrk_gflops);
        for (const int64_t n : sizes) {
            const int64_t k = std::min(components, n);
            const std::vector<float> x = bench::random_walk(n, d, 1);
            TimedSolver solver;
            double total = 0;  // of the last fit, for the host share of the stages
            const double seconds = median_seconds(
                [&] { total = seconds_of([&] { fit_pca(solver, x.data(), n, d, k); }); });
            const double flops = double(n) * n * d + 2.0 * n * k * d + double(k) * k * d;
            const double floor_seconds =
                double(n) * n * d / (syrk_gflops * 1e9) + 2.0 * n * k * d / (machine_gflops * 1e9);
            const TimedSolver::Stages& stages = solver.stages();
            const long long size = n;
            std::printf(", \"fit_s_n%lld\": %.3f, \"fit_gflops_n%lld\": %.1f, "
                        "\"fit_fraction_of_dgemm_n%lld\": %.2f, \"floor_s_n%lld\": %.3f, "
                        "\"fit_fraction_of_floor_n%lld\": %.2f, \"stages_s_n%lld\": "
                        "{\"means\": %.3f, \"gram_eigen\": %.3f, \"components\": %.3f, "
                        "\"host\": %.3f}",
                        size, seconds, size, flops / seconds / 1e9, size,
                        flops / seconds / 1e9 / machine_gflops, size, floor_seconds, size,
                        floor_seconds / seconds, size, stages.means, stages.gram_eigen,
                        stages.components,
                        total - stages.means - stages.gram_eigen - stages.components);
            std::fflush(stdout);
        }
        std::printf("}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_pca: %s\n", e.what());
        return 1;
    }
    return 0;
}
