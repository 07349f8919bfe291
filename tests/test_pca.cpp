// PCA (engine/pca.hpp), on seeded random-walk data shaped like weight snapshots (a spectrum that
// decays like 1/i², so small components exist), in shapes with more samples than features, fewer,
// and column counts that do not fill the fit's 1024-column blocks:
// - eigenvalues against a cyclic Jacobi eigensolver on the Gram matrix written independently here,
//   total variance against the column variances;
// - orthonormal basis, decreasing variance, ratios in [0, 1] summing to 1 over all components,
//   the sign rule, scores with zero mean and the explained variance as their variance;
// - reconstruction: exact with all components, and with k components the squared error equals the
//   dropped eigenvalues;
// - rank-deficient input (repeated rows, identical rows) gives finite outputs, zero tail variance
//   and still an orthonormal basis; so does a spectrum falling to 1e-12, where components computed
//   as Xcᵀu/σ lose orthogonality (eps · λ_1 / λ_i) and the fit must repair them;
// - save/load round trip and every kind of damaged file refused with the file and problem named;
// - agreement with scikit-learn 1.2.1 on a committed fixture (tools/make_pca_fixture.py), up to
//   one sign per component (that version decides signs from the scores, not the components);
// - the host logic shared by the CPU and CUDA solvers (fit_pca(PcaSolver&, ...)) on a scripted
//   solver: component count capping, the rank cut, the zero-variance tail, the sign rule (ties
//   included), explained variance and ratio; and fit_pca / transforms on the CPU backend are the
//   CPU functions, bit for bit. (The CUDA solver itself: tests/test_pca_device.cpp.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "engine/error.hpp"
#include "engine/pca.hpp"
#include "engine/pca_solver.hpp"
#include "engine/random.hpp"
#include "engine/safetensors.hpp"
#include "tests/check.hpp"
#include "tests/pca_check.hpp"

using namespace twp;
using test::all_finite;
using test::orthonormality_error;
using test::random_walk;
using test::require_close;
using test::Tolerance;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

struct DataShape {
    int64_t n, d;
};

// More features than samples (the snapshot case), more samples than features, several column
// blocks with a partial last one, and the smallest sizes.
const std::vector<DataShape> kShapes = {{40, 300}, {30, 2500}, {60, 20}, {2, 5}, {7, 1}, {25, 25}};

std::vector<double> column_means(const std::vector<float>& x, int64_t n, int64_t d) {
    std::vector<double> mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) mean[j] += x[i * d + j];
    for (double& m : mean) m /= double(n);
    return mean;
}

// Eigenvalues of the symmetric a[m, m] by cyclic Jacobi rotations, in decreasing order.
std::vector<double> jacobi_eigenvalues(std::vector<double> a, int64_t m) {
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0, scale = 0;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < m; ++j) (i == j ? scale : off) += a[i * m + j] * a[i * m + j];
        if (off <= 1e-30 * scale) break;
        for (int64_t p = 0; p < m; ++p)
            for (int64_t q = p + 1; q < m; ++q) {
                if (a[p * m + q] == 0) continue;
                const double theta = (a[q * m + q] - a[p * m + p]) / (2 * a[p * m + q]);
                const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (int64_t k = 0; k < m; ++k) {  // columns p, q
                    const double akp = a[k * m + p], akq = a[k * m + q];
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < m; ++k) {  // rows p, q
                    const double apk = a[p * m + k], aqk = a[q * m + k];
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
            }
    }
    std::vector<double> values(m);
    for (int64_t i = 0; i < m; ++i) values[i] = a[i * m + i];
    std::sort(values.rbegin(), values.rend());
    return values;
}

// The Gram matrix of the centered rows, g[n, n], in double.
std::vector<double> centered_gram(const std::vector<float>& x, int64_t n, int64_t d) {
    const std::vector<double> mean = column_means(x, n, d);
    std::vector<double> g(n * n, 0.0);
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = 0; b < n; ++b)
            for (int64_t j = 0; j < d; ++j)
                g[a * n + b] += (x[a * d + j] - mean[j]) * (x[b * d + j] - mean[j]);
    return g;
}

// Every component's largest-magnitude entry (the first, on ties) is positive.
void require_sign_rule(const PcaModel& model) {
    for (int64_t i = 0; i < model.components; ++i) {
        const float* row = model.basis.data() + i * model.dim;
        int64_t argmax = 0;
        for (int64_t j = 1; j < model.dim; ++j)
            if (std::abs(row[j]) > std::abs(row[argmax])) argmax = j;
        CAPTURE(i, argmax);
        REQUIRE(row[argmax] > 0);
    }
}

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag)
        : path(fs::temp_directory_path() / ("twp_test_" + tag + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

}  // namespace

TEST_CASE("PCA eigenvalues match a Jacobi eigensolver; total variance the column variances", "[pca]") {
    for (const DataShape& s : kShapes) {
        if (s.n * s.n * s.d > 40'000'000) continue;  // keep the naive Gram matrix quick
        CAPTURE(s.n, s.d);
        const std::vector<float> x = random_walk(s.n, s.d, 11);
        const PcaModel model = fit_pca(x.data(), s.n, s.d, s.n);
        const int64_t k = std::min(s.n, s.d);
        REQUIRE(model.components == k);
        REQUIRE(model.samples == s.n);
        REQUIRE(model.dim == s.d);

        const std::vector<double> lambda = jacobi_eigenvalues(centered_gram(x, s.n, s.d), s.n);
        std::vector<double> expected(k), actual(k);
        for (int64_t i = 0; i < k; ++i) {
            // Below 1e-12 of the largest the fit reports exactly 0.
            expected[i] = lambda[i] > 1e-12 * lambda[0] ? lambda[i] / double(s.n - 1) : 0.0;
            actual[i] = model.explained_variance[i];
        }
        require_close(actual, expected, {1e-6, 1e-9 * expected[0]});

        const std::vector<double> mean = column_means(x, s.n, s.d);
        double total = 0, sum = 0;
        for (int64_t i = 0; i < s.n; ++i)
            for (int64_t j = 0; j < s.d; ++j)
                total += (x[i * s.d + j] - mean[j]) * (x[i * s.d + j] - mean[j]);
        total /= double(s.n - 1);
        for (double v : model.explained_variance) sum += v;
        REQUIRE(std::abs(sum - total) <= 1e-9 * total);
        require_close(model.mean, mean, {0, 1e-7});
    }
}

TEST_CASE("PCA basis is orthonormal, variances decrease, ratios sum to 1, signs follow the rule",
          "[pca]") {
    for (const DataShape& s : kShapes)
    for (const int64_t requested : {int64_t(1), int64_t(3), s.n, int64_t(1000)}) {
        CAPTURE(s.n, s.d, requested);
        const std::vector<float> x = random_walk(s.n, s.d, 12);
        const PcaModel model = fit_pca(x.data(), s.n, s.d, requested);
        const int64_t k = std::min({requested, s.n, s.d});
        REQUIRE(model.components == k);
        REQUIRE(int64_t(model.basis.size()) == k * s.d);
        REQUIRE(all_finite(model));
        REQUIRE(orthonormality_error(model) < 1e-5);
        require_sign_rule(model);
        double ratio_sum = 0;
        for (int64_t i = 0; i < k; ++i) {
            if (i > 0) REQUIRE(model.explained_variance[i] <= model.explained_variance[i - 1]);
            REQUIRE(model.explained_variance[i] >= 0);
            REQUIRE(model.explained_variance_ratio[i] >= 0);
            REQUIRE(model.explained_variance_ratio[i] <= 1);
            ratio_sum += model.explained_variance_ratio[i];
        }
        REQUIRE(ratio_sum <= 1 + 1e-9);
        if (k == std::min(s.n, s.d)) REQUIRE(ratio_sum == Approx(1.0).epsilon(1e-9));
    }
}

TEST_CASE("PCA reconstructs exactly with all components and loses the dropped eigenvalues",
          "[pca]") {
    for (const DataShape& s : kShapes) {
        CAPTURE(s.n, s.d);
        const std::vector<float> x = random_walk(s.n, s.d, 13);
        const PcaModel full = fit_pca(x.data(), s.n, s.d, s.n);
        std::vector<float> scores(s.n * full.components), back(s.n * s.d);
        test::poison(scores);
        test::poison(back);
        full.transform(x.data(), s.n, scores.data());
        full.inverse_transform(scores.data(), s.n, back.data());
        require_close(back, x, Tolerance().with_largest(1e-5));

        // The scores of the training rows have mean 0 and variance explained_variance.
        for (int64_t i = 0; i < full.components; ++i) {
            double sum = 0, squares = 0;
            for (int64_t t = 0; t < s.n; ++t) {
                sum += scores[t * full.components + i];
                squares += double(scores[t * full.components + i]) * scores[t * full.components + i];
            }
            CAPTURE(i);
            REQUIRE(std::abs(sum / double(s.n)) <= 1e-5 * std::sqrt(full.explained_variance[0]));
            REQUIRE(squares / double(s.n - 1) ==
                    Approx(full.explained_variance[i]).margin(1e-6 * full.explained_variance[0]));
        }

        // Keeping k components, the squared error of the centered data is the dropped eigenvalues.
        const int64_t k = std::min(full.components, int64_t(3));
        if (k == full.components) continue;
        const PcaModel part = fit_pca(x.data(), s.n, s.d, k);
        std::vector<float> part_scores(s.n * k);
        part.transform(x.data(), s.n, part_scores.data());
        part.inverse_transform(part_scores.data(), s.n, back.data());
        double error = 0, dropped = 0;
        for (int64_t i = 0; i < s.n * s.d; ++i) error += double(back[i] - x[i]) * (back[i] - x[i]);
        for (int64_t i = k; i < full.components; ++i) dropped += full.explained_variance[i];
        dropped *= double(s.n - 1);
        REQUIRE(error == Approx(dropped).epsilon(1e-3).margin(1e-10));
    }
}

TEST_CASE("PCA of rank-deficient data: finite, zero tail variance, orthonormal filled basis",
          "[pca]") {
    SECTION("rows repeated: 5 distinct rows, centered rank 4") {
        for (const DataShape& s : {DataShape{30, 300}, DataShape{30, 2100}, DataShape{30, 12}}) {
            CAPTURE(s.n, s.d);
            const std::vector<float> distinct = random_walk(5, s.d, 14);
            std::vector<float> x(s.n * s.d);
            for (int64_t t = 0; t < s.n; ++t)
                std::copy_n(distinct.begin() + (t % 5) * s.d, s.d, x.begin() + t * s.d);
            const PcaModel model = fit_pca(x.data(), s.n, s.d, s.n);
            REQUIRE(model.components == std::min(s.n, s.d));
            REQUIRE(all_finite(model));
            REQUIRE(orthonormality_error(model) < 1e-5);
            require_sign_rule(model);
            for (int64_t i = 0; i < model.components; ++i) {
                CAPTURE(i);
                if (i < 4) REQUIRE(model.explained_variance[i] > 0);
                else REQUIRE(model.explained_variance[i] == 0);
                if (i >= 4) REQUIRE(model.explained_variance_ratio[i] == 0);
            }
            std::vector<float> scores(s.n * model.components), back(s.n * s.d);
            model.transform(x.data(), s.n, scores.data());
            model.inverse_transform(scores.data(), s.n, back.data());
            require_close(back, x, Tolerance().with_largest(1e-5));
        }
    }
    SECTION("all rows identical: no variance at all") {
        const int64_t n = 6, d = 50;
        const std::vector<float> row = random_walk(1, d, 15);
        std::vector<float> x;
        for (int64_t t = 0; t < n; ++t) x.insert(x.end(), row.begin(), row.end());
        const PcaModel model = fit_pca(x.data(), n, d, 4);
        REQUIRE(model.components == 4);
        REQUIRE(all_finite(model));
        REQUIRE(orthonormality_error(model) < 1e-5);
        for (int64_t i = 0; i < 4; ++i) {
            REQUIRE(model.explained_variance[i] == 0);
            REQUIRE(model.explained_variance_ratio[i] == 0);
        }
        require_close(model.mean, row, {0, 0});
        // Deterministic: the same fill vectors every time.
        REQUIRE(fit_pca(x.data(), n, d, 4).basis == model.basis);
    }
}

TEST_CASE("PCA of a spectrum falling by 0.36 per component stays orthonormal to float precision",
          "[pca]") {
    // x = sum over r of 0.6^r · a_r b_rᵀ with random a_r [n], b_r [d]: eigenvalues fall by ~0.36
    // per component and cross 1e-12 of the largest near component 27. Without the repair, the
    // components just above that line are off by ~1e-5.
    const int64_t n = 60, d = 500;
    Rng rng(18, RngStream::kInit);
    std::vector<double> sum(n * d, 0.0), a(n), b(d);
    for (int64_t r = 0; r < n; ++r) {
        for (double& v : a) v = rng.uniform(1.0f);
        for (double& v : b) v = rng.uniform(1.0f);
        const double scale = std::pow(0.6, double(r));
        for (int64_t t = 0; t < n; ++t)
            for (int64_t j = 0; j < d; ++j) sum[t * d + j] += scale * a[t] * b[j];
    }
    const std::vector<float> x(sum.begin(), sum.end());
    const PcaModel model = fit_pca(x.data(), n, d, n);
    REQUIRE(all_finite(model));
    REQUIRE(orthonormality_error(model) < 2e-6);
    require_sign_rule(model);
    int64_t with_variance = 0;
    for (int64_t i = 0; i < n; ++i) with_variance += model.explained_variance[i] > 0;
    CAPTURE(with_variance);
    REQUIRE(with_variance > 20);
    REQUIRE(with_variance < 40);
    for (int64_t i = with_variance; i < n; ++i) REQUIRE(model.explained_variance[i] == 0);
}

TEST_CASE("fit_pca refuses bad arguments with clear messages", "[pca]") {
    const std::vector<float> x = random_walk(4, 3, 16);
    REQUIRE_THROWS_WITH(fit_pca(x.data(), 1, 3, 1), Contains("at least 2 samples"));
    REQUIRE_THROWS_WITH(fit_pca(x.data(), 4, 0, 1), Contains("features"));
    REQUIRE_THROWS_WITH(fit_pca(x.data(), 4, 3, 0), Contains("at least 1"));
    REQUIRE_THROWS_WITH(fit_pca(nullptr, 4, 3, 1), Contains("null pointer"));
    std::vector<float> bad = x;
    bad[7] = std::numeric_limits<float>::quiet_NaN();  // row 2, feature 1
    REQUIRE_THROWS_WITH(fit_pca(bad.data(), 4, 3, 1), Contains("feature 1") && Contains("NaN"));
    bad[7] = std::numeric_limits<float>::infinity();
    REQUIRE_THROWS_WITH(fit_pca(bad.data(), 4, 3, 1), Contains("feature 1"));
    PcaModel empty;
    std::vector<float> out(3);
    REQUIRE_THROWS_WITH(empty.transform(x.data(), 1, out.data()), Contains("fit it with fit_pca"));
}

TEST_CASE("PCA save/load round trip, and damaged files refused", "[pca]") {
    TempDir dir("pca");
    const std::vector<float> x = random_walk(12, 40, 17);
    const PcaModel model = fit_pca(x.data(), 12, 40, 5);
    const fs::path path = dir.path / "pca.safetensors";
    save_pca(path, model);
    const PcaModel loaded = load_pca(path);
    REQUIRE(loaded.dim == 40);
    REQUIRE(loaded.components == 5);
    REQUIRE(loaded.samples == 12);
    REQUIRE(loaded.mean == model.mean);
    REQUIRE(loaded.basis == model.basis);
    REQUIRE(loaded.explained_variance == model.explained_variance);
    REQUIRE(loaded.explained_variance_ratio == model.explained_variance_ratio);

    const SafetensorsFile good = load_safetensors(path);
    REQUIRE(good.metadata.at("samples") == "12");
    REQUIRE(good.at("explained_variance").dtype == DType::F64);
    const auto refused = [&](SafetensorsFile file, const std::string& message) {
        CAPTURE(message);
        const fs::path bad = dir.path / "bad.safetensors";
        save_safetensors(bad, file);
        REQUIRE_THROWS_WITH(load_pca(bad), Contains("bad.safetensors") && Contains(message));
    };
    const auto without = [&](const std::string& name) {
        SafetensorsFile file = good;
        std::erase_if(file.tensors, [&](const TensorRecord& t) { return t.name == name; });
        return file;
    };
    const auto replaced = [&](TensorRecord record) {
        SafetensorsFile file = good;
        for (TensorRecord& t : file.tensors)
            if (t.name == record.name) t = record;
        return file;
    };
    refused(without("basis"), "\"basis\"");
    refused(without("explained_variance_ratio"), "\"explained_variance_ratio\"");
    {
        SafetensorsFile file = good;
        file.metadata.erase("format");
        refused(file, "not a twp PCA model");
        file = good;
        file.metadata["samples"] = "12x";
        refused(file, "\"samples\" must be an integer");
        file.metadata.erase("samples");
        refused(file, "lacks the \"samples\"");
    }
    refused(replaced(make_f32_tensor("explained_variance", {5}, std::vector<float>(5, 1).data())),
            "is F32, expected F64");
    refused(replaced(make_f32_tensor("basis", {5, 39}, model.basis.data())),
            "rows of 39 values");
    refused(replaced(make_f32_tensor("basis", {200}, model.basis.data())), "dimensions");
    {
        std::vector<float> basis = model.basis;
        basis[2 * 40 + 3] *= 2;
        refused(replaced(make_f32_tensor("basis", {5, 40}, basis.data())), "row 2 has length");
        basis[2 * 40 + 3] = std::numeric_limits<float>::quiet_NaN();
        refused(replaced(make_f32_tensor("basis", {5, 40}, basis.data())), "not finite");
    }
    {
        std::vector<double> ratio = model.explained_variance_ratio;
        ratio[1] = 1.5;
        refused(replaced(make_tensor("explained_variance_ratio", DType::F64, {5}, ratio.data())),
                "must be in [0, 1]");
        refused(replaced(make_tensor("explained_variance_ratio", DType::F64, {4}, ratio.data())),
                "must have 5 entries");
    }
    REQUIRE_THROWS_WITH(load_pca(dir.path / "missing.safetensors"), Contains("missing.safetensors"));
}

TEST_CASE("PCA agrees with scikit-learn 1.2.1 up to one sign per component", "[pca]") {
    // tools/make_pca_fixture.py: X [40, 300] with a decaying spectrum, PCA(n_components=20).
    const SafetensorsFile fixture = load_safetensors(TWP_PCA_FIXTURE);
    const TensorRecord& x = fixture.at("X");
    REQUIRE(x.dtype == DType::F32);
    REQUIRE(x.shape.size() == 2);
    const int64_t n = x.shape[0], d = x.shape[1];
    const TensorRecord& components = fixture.at("components");
    const int64_t k = components.shape[0];
    REQUIRE(components.shape == std::vector<int64_t>{k, d});

    const PcaModel model = fit_pca(x.f32(), n, d, k);
    REQUIRE(model.components == k);
    require_close(model.mean, std::vector<double>(fixture.at("mean").f64(), fixture.at("mean").f64() + d),
                  {0, 1e-6});
    const std::vector<double> variance(fixture.at("explained_variance").f64(),
                                       fixture.at("explained_variance").f64() + k);
    const std::vector<double> ratio(fixture.at("explained_variance_ratio").f64(),
                                    fixture.at("explained_variance_ratio").f64() + k);
    require_close(model.explained_variance, variance, {1e-4, 0});
    require_close(model.explained_variance_ratio, ratio, {1e-4, 0});

    // Signs: sklearn 1.2.1's are chosen from the scores, so align each row on its dot product.
    std::vector<double> signs(k);
    std::vector<double> aligned(k * d), expected(components.f64(), components.f64() + k * d);
    for (int64_t i = 0; i < k; ++i) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += model.basis[i * d + j] * expected[i * d + j];
        signs[i] = dot < 0 ? -1.0 : 1.0;
        for (int64_t j = 0; j < d; ++j) aligned[i * d + j] = signs[i] * model.basis[i * d + j];
    }
    require_close(aligned, expected, {0, 1e-4});

    std::vector<float> scores(n * k);
    test::poison(scores);
    model.transform(x.f32(), n, scores.data());
    const TensorRecord& sklearn_scores = fixture.at("transform");
    REQUIRE(sklearn_scores.shape == std::vector<int64_t>{n, k});
    std::vector<double> aligned_scores(n * k), expected_scores(sklearn_scores.f64(),
                                                               sklearn_scores.f64() + n * k);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < k; ++i) aligned_scores[t * k + i] = signs[i] * scores[t * k + i];
    require_close(aligned_scores, expected_scores, Tolerance(1e-4).with_largest(1e-5));
}

namespace {

// A solver with a prescribed outcome, so that the host logic around it is tested alone: it returns
// zero means, the first `count` of `eigenvalues` and the first `rank` rows of `axes` [rows, d],
// and records what it was asked.
class ScriptedSolver final : public PcaSolver {
public:
    std::vector<double> eigenvalues;  // decreasing
    double total = 0;
    std::vector<float> axes;          // [rows, d]
    int64_t asked_count = -1, asked_rank = -1, d = 0;

    std::string name() const override { return "scripted"; }
    std::vector<double> center(const float*, int64_t, int64_t features) override {
        d = features;
        return std::vector<double>(features, 0.0);
    }
    Eigenpairs largest_eigenpairs(int64_t count) override {
        asked_count = count;
        return {std::vector<double>(eigenvalues.begin(), eigenvalues.begin() + count), total};
    }
    void components(int64_t rank, float* basis) override {
        asked_rank = rank;
        std::copy_n(axes.begin(), rank * d, basis);
    }
    void transform(const PcaModel&, const float*, int64_t, float*) override { FAIL("not used"); }
    void inverse_transform(const PcaModel&, const float*, int64_t, float*) override { FAIL("not used"); }
};

}  // namespace

TEST_CASE("PCA host logic: capping, rank cut, zero-variance tail, sign rule, variance", "[pca]") {
    const std::vector<float> x(5 * 8, 0.0f);  // never read by the scripted solver
    SECTION("k = min(requested, n, d)") {
        for (const auto& [n, d, requested, k] : std::vector<std::array<int64_t, 4>>{
                 {5, 8, 1000, 5}, {5, 8, 3, 3}, {8, 3, 1000, 3}, {5, 5, 5, 5}}) {
            CAPTURE(n, d, requested);
            ScriptedSolver solver;
            solver.eigenvalues = {4, 3, 2, 1, 0.5, 0.25, 0.125, 0.0625};
            solver.total = 11;
            solver.axes.assign(8 * d, 0.0f);
            for (int64_t i = 0; i < std::min<int64_t>(8, d); ++i) solver.axes[i * d + i] = 1.0f;
            std::vector<float> data(n * d, 0.0f);
            const PcaModel model = fit_pca(solver, data.data(), n, d, requested);
            REQUIRE(model.components == k);
            REQUIRE(solver.asked_count == k);
            REQUIRE(solver.asked_rank == k);
            REQUIRE(orthonormality_error(model) < 1e-6);
        }
    }
    SECTION("rank cut below 1e-12 of the largest, tail filled, signs by the largest entry") {
        ScriptedSolver solver;
        solver.eigenvalues = {4, 1, 1e-13, 0, -1e-15};  // -1e-15: an eigensolver's rounding
        solver.total = 5;
        const int64_t d = 8;
        solver.axes = {0.6f, -0.8f, 0, 0, 0, 0, 0, 0,           // largest -0.8: flipped
                       0, 0, -0.5f, 0.5f, 0.5f, -0.5f, 0, 0};   // tie: the first (-0.5) decides, flipped
        const PcaModel model = fit_pca(solver, x.data(), 5, d, 5);
        REQUIRE(solver.asked_count == 5);
        REQUIRE(solver.asked_rank == 2);
        REQUIRE(all_finite(model));
        REQUIRE(orthonormality_error(model) < 1e-6);
        require_sign_rule(model);
        REQUIRE(std::vector<float>(model.basis.begin(), model.basis.begin() + 2 * d) ==
                std::vector<float>{-0.6f, 0.8f, 0, 0, 0, 0, 0, 0, 0, 0, 0.5f, -0.5f, -0.5f, 0.5f, 0, 0});
        REQUIRE(model.explained_variance == std::vector<double>{1.0, 0.25, 0, 0, 0});
        REQUIRE(model.explained_variance_ratio == std::vector<double>{0.8, 0.2, 0, 0, 0});
    }
    SECTION("no variance at all: components never asked for, the whole basis filled") {
        ScriptedSolver solver;
        solver.eigenvalues = {0, 0, 0};
        const PcaModel model = fit_pca(solver, x.data(), 5, 8, 3);
        REQUIRE(solver.asked_rank == -1);
        REQUIRE(all_finite(model));
        REQUIRE(orthonormality_error(model) < 1e-6);
        require_sign_rule(model);
        REQUIRE(model.explained_variance == std::vector<double>(3, 0.0));
    }
    SECTION("a solver's non-finite component is an error naming it") {
        ScriptedSolver solver;
        solver.eigenvalues = {2, 1};
        solver.total = 3;
        solver.axes = {1, 0, 0, 0, std::numeric_limits<float>::quiet_NaN(), 0, 0, 0};
        REQUIRE_THROWS_WITH(fit_pca(solver, x.data(), 5, 4, 2),
                            Contains("scripted solver") && Contains("component 1"));
    }
}

TEST_CASE("PCA on the CPU backend is the CPU fit and transforms, bit for bit", "[pca]") {
    CpuBackend backend(1);
    const std::vector<float> x = random_walk(30, 700, 19);
    const PcaModel expected = fit_pca(x.data(), 30, 700, 10);
    const PcaModel model = fit_pca(backend, x.data(), 30, 700, 10);
    REQUIRE(model.basis == expected.basis);
    REQUIRE(model.mean == expected.mean);
    REQUIRE(model.explained_variance == expected.explained_variance);
    REQUIRE(model.explained_variance_ratio == expected.explained_variance_ratio);
    std::vector<float> scores(30 * 10), expected_scores(30 * 10), back(30 * 700), expected_back(30 * 700);
    model.transform(backend, x.data(), 30, scores.data());
    model.transform(x.data(), 30, expected_scores.data());
    REQUIRE(scores == expected_scores);
    model.inverse_transform(backend, scores.data(), 30, back.data());
    model.inverse_transform(scores.data(), 30, expected_back.data());
    REQUIRE(back == expected_back);
}
