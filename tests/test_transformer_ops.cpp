// The transformer predictor's ops on the CPU backend (add, add_row_broadcast, scatter_rows,
// layer norm, dropout, attention, MSE loss, Adam), as test_ops.cpp does for LeNet-5's:
// - forward in float through the Backend interface (outputs poisoned with NaN first) against a
//   naive double-precision reference written independently here;
// - backward by central finite differences in double on the same templated code (engine/cpu),
//   for the scalar L = sum(y * r) with a random upstream gradient r; with dropout the mask is a
//   fixed function of the DropoutSpec, so finite differences still apply;
// - dropout's mask against its defining formula, computed here from philox4x32 directly;
// - Adam against three steps worked out by hand and checked with torch.optim.Adam;
// - results that do not depend on the thread count, and shape mistakes rejected with clear messages.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "engine/buffer.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "tests/backend_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {


// The dropout formula of DropoutSpec, spelled out from philox4x32 (not from dropout_keep).
bool kept_by_formula(const DropoutSpec& spec, uint64_t index) {
    const uint64_t c = spec.offset + index;
    const PhiloxBlock bits = philox4x32({uint32_t(c >> 2), uint32_t((c >> 2) >> 32),
                                         uint32_t(RngStream::kDropout), 0u}, spec.seed);
    return uniform_from_bits(bits[c & 3]) >= spec.p;
}

double multiplier_by_formula(const DropoutSpec& spec, uint64_t index) {
    if (spec.p == 0.0f) return 1.0;
    return kept_by_formula(spec, index) ? 1.0 / (1.0 - double(spec.p)) : 0.0;
}

// ---- naive references ----
// out [B,S,D] and probs [B,H,S,S] of attention, straight from the definition.
std::pair<std::vector<double>, std::vector<double>> attention_reference(
    const std::vector<double>& qkv, const AttentionDims& d, const DropoutSpec& dropout) {
    const int64_t dh = d.dim / d.heads;
    const auto q = [&](int64_t b, int64_t i, int64_t h, int64_t e) {
        return qkv[(b * d.seq + i) * 3 * d.dim + h * dh + e];
    };
    const auto k = [&](int64_t b, int64_t j, int64_t h, int64_t e) {
        return qkv[(b * d.seq + j) * 3 * d.dim + d.dim + h * dh + e];
    };
    const auto v = [&](int64_t b, int64_t j, int64_t h, int64_t e) {
        return qkv[(b * d.seq + j) * 3 * d.dim + 2 * d.dim + h * dh + e];
    };
    std::vector<double> probs(d.batch * d.heads * d.seq * d.seq), out(d.batch * d.seq * d.dim);
    for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t h = 0; h < d.heads; ++h)
            for (int64_t i = 0; i < d.seq; ++i) {
                std::vector<double> scores(d.seq);
                for (int64_t j = 0; j < d.seq; ++j) {
                    double s = 0;
                    for (int64_t e = 0; e < dh; ++e) s += q(b, i, h, e) * k(b, j, h, e);
                    scores[j] = s / std::sqrt(double(dh));
                }
                const double top = *std::max_element(scores.begin(), scores.end());
                double total = 0;
                for (double& s : scores) total += (s = std::exp(s - top));
                for (int64_t j = 0; j < d.seq; ++j) {
                    const int64_t index = ((b * d.heads + h) * d.seq + i) * d.seq + j;
                    probs[index] = scores[j] / total;
                    const double weight = probs[index] * multiplier_by_formula(dropout, index);
                    for (int64_t e = 0; e < dh; ++e)
                        out[(b * d.seq + i) * d.dim + h * dh + e] += weight * v(b, j, h, e);
                }
            }
    return {probs, out};
}

const std::vector<AttentionDims> kAttentionShapes = {
    // batch, seq, dim, heads
    {1, 1, 4, 1},     // one position: the softmax is 1
    {2, 3, 10, 5},    // Dh = 2
    {3, 5, 24, 8},    // eight heads, Dh = 3
    {2, 7, 13, 1},    // one head, odd width
    {1, 32, 96, 8},   // the longest sequences
    {32, 3, 500, 5},  // the predictor: B = 32, S = 3, D = 500, five heads of 100
};

const std::vector<DropoutSpec> kDropouts = {{0.0f, 0, 0}, {0.3f, 99, 12345}};

}  // namespace

// ---------------------------------------------------------------- add, add_row_broadcast
TEST_CASE("add sums elementwise, in place too", "[ops][add]") {
    for (const Shape shape : {Shape{1}, Shape{7, 13}, Shape{96, 500}, Shape{2, 3, 5}}) {
        CAPTURE(shape.str());
        const auto a = random_vector<double>(shape.numel(), 1), b = random_vector<double>(shape.numel(), 2);
        std::vector<double> expected(a.size());
        for (size_t i = 0; i < a.size(); ++i) expected[i] = double(float(a[i])) + double(float(b[i]));
        Buffer<float> ab = to_backend(as_float(a)), bb = to_backend(as_float(b)),
                      yb = poisoned<float>(shape.numel());
        backend().add(ab.view(shape), bb.view(shape), yb.view(shape));
        require_close(yb.download(), expected, {1e-7, 0});
        backend().add(ab.view(shape), bb.view(shape), bb.view(shape));  // y aliases b
        require_close(bb.download(), expected, {1e-7, 0});
    }
    Buffer<float> a(backend(), 6), b(backend(), 5);
    REQUIRE_THROWS_WITH(backend().add(a.view({2, 3}), b.view({5}), a.view({2, 3})),
                        Catch::Contains("add: sizes differ"));
}

TEST_CASE("add_row_broadcast adds the row to every row", "[ops][add_row_broadcast]") {
    for (const auto& [x_shape, row_shape] : std::vector<std::pair<Shape, Shape>>{
             {{1, 1}, {1}}, {{5, 7}, {7}}, {{96, 1500}, {1500}}, {{4, 3, 11}, {3, 11}},
             {{32, 3, 500}, {3, 500}}}) {
        CAPTURE(x_shape.str(), row_shape.str());
        const auto x = random_vector<double>(x_shape.numel(), 3);
        const auto row = random_vector<double>(row_shape.numel(), 4);
        std::vector<double> expected(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            expected[i] = double(float(x[i])) + double(float(row[i % row.size()]));
        Buffer<float> xb = to_backend(as_float(x)), rb = to_backend(as_float(row)),
                      yb = poisoned<float>(x_shape.numel());
        backend().add_row_broadcast(xb.view(x_shape), rb.view(row_shape), yb.view(x_shape));
        require_close(yb.download(), expected, {1e-7, 0});
        backend().add_row_broadcast(xb.view(x_shape), rb.view(row_shape), xb.view(x_shape));
        require_close(xb.download(), expected, {1e-7, 0});
    }
    Buffer<float> x(backend(), 10), row(backend(), 3);
    REQUIRE_THROWS_WITH(backend().add_row_broadcast(x.view({2, 5}), row.view({3}), x.view({2, 5})),
                        Catch::Contains("not a whole number of rows"));
    REQUIRE_THROWS_WITH(backend().add_row_broadcast(x.view({2, 3}), row.view({3}), x.view({7})),
                        Catch::Contains("sizes differ"));
}

// ---------------------------------------------------------------- scatter_rows
TEST_CASE("scatter_rows writes the named rows and nothing else", "[ops][scatter_rows]") {
    const std::vector<float> src = {1, 2, 3, 4, 5, 6};
    Buffer<float> sb = to_backend(src), db = to_backend(std::vector<float>(12, -1.0f));
    Buffer<int32_t> rows = to_backend(std::vector<int32_t>{3, 0, 5});
    backend().scatter_rows(sb.view({3, 2}), rows.view(), db.view({6, 2}));
    REQUIRE(db.download() == std::vector<float>{3, 4, -1, -1, -1, -1, 1, 2, -1, -1, 5, 6});

    // The transpose of gather_rows: <gather(x), y> = <x, scatter(y)> for distinct rows.
    const int64_t n = 9, batch = 4, width = 7;
    const std::vector<int32_t> picks = {8, 2, 0, 5};
    const auto x = random_vector<float>(n * width, 5), y = random_vector<float>(batch * width, 6);
    Buffer<float> xb = to_backend(x), yb = to_backend(y), gathered = poisoned<float>(batch * width),
                  scattered = to_backend(std::vector<float>(n * width, 0.0f));
    Buffer<int32_t> pb = to_backend(picks);
    backend().gather_rows(xb.view({n, width}), pb.view(), gathered.view({batch, width}));
    backend().scatter_rows(yb.view({batch, 1, width}), pb.view(), scattered.view({n, 1, width}));
    const auto to_double = [](const std::vector<float>& v) {
        return std::vector<double>(v.begin(), v.end());
    };
    REQUIRE(dot(to_double(gathered.download()), to_double(y)) ==
            Approx(dot(to_double(x), to_double(scattered.download()))).epsilon(1e-6));

    Buffer<int32_t> bad = to_backend(std::vector<int32_t>{0, 6, 1});
    REQUIRE_THROWS_WITH(backend().scatter_rows(sb.view({3, 2}), bad.view(), db.view({6, 2})),
                        Catch::Contains("scatter_rows: row 6 outside 0..5"));
    REQUIRE_THROWS_WITH(backend().scatter_rows(sb.view({3, 2}), rows.view(), db.view({4, 3})),
                        Catch::Contains("source rows"));
    REQUIRE_THROWS_WITH(backend().scatter_rows(sb.view({2, 3}), rows.view(), db.view({4, 3})),
                        Catch::Contains("scatter_rows"));
}

// ---------------------------------------------------------------- layer norm
TEST_CASE("layer_norm forward matches torch.nn.LayerNorm's definition", "[ops][layer_norm]") {
    const double eps = 1e-5;
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {1, 7}, {5, 3}, {13, 130}, {96, 500}, {3, 2048}}) {
        CAPTURE(rows, width);
        auto x = random_vector<double>(rows * width, 7, 3.0);
        for (int64_t r = 0; r < rows; ++r) x[r * width] += 10.0 * double(r);  // rows far from 0 mean
        const auto gamma = random_vector<double>(width, 8), beta = random_vector<double>(width, 9);
        std::vector<double> expected(x.size()), expected_mean(rows), expected_rstd(rows);
        for (int64_t r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (int64_t j = 0; j < width; ++j) mean += double(float(x[r * width + j])) / double(width);
            for (int64_t j = 0; j < width; ++j)
                var += std::pow(double(float(x[r * width + j])) - mean, 2) / double(width);
            expected_mean[r] = mean;
            expected_rstd[r] = 1.0 / std::sqrt(var + double(float(eps)));
            for (int64_t j = 0; j < width; ++j)
                expected[r * width + j] = (double(float(x[r * width + j])) - mean) * expected_rstd[r] *
                                              double(float(gamma[j])) + double(float(beta[j]));
        }
        Buffer<float> xb = to_backend(as_float(x)), gb = to_backend(as_float(gamma)),
                      bb = to_backend(as_float(beta)), yb = poisoned<float>(rows * width),
                      mb = poisoned<float>(rows), rb = poisoned<float>(rows);
        backend().layer_norm_forward(xb.view({rows, width}), gb.view({width}), bb.view({width}),
                                     float(eps), yb.view({rows, width}), mb.view({rows}), rb.view({rows}));
        require_close(yb.download(), expected, {1e-5, 1e-5});
        require_close(mb.download(), expected_mean, {1e-6, 1e-6});
        require_close(rb.download(), expected_rstd, {1e-6, 0});
    }
}

TEST_CASE("layer_norm backward matches finite differences", "[ops][layer_norm][gradient]") {
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 5}, {2, 1}, {4, 7}, {3, 70}}) {
        CAPTURE(rows, width);
        auto x = random_vector<double>(rows * width, 10, 2.0);
        auto gamma = random_vector<double>(width, 11), beta = random_vector<double>(width, 12);
        const auto r = random_vector<double>(rows * width, 13);
        std::vector<double> y(x.size()), mean(rows), rstd(rows);
        const auto loss = [&] {
            cpu::layer_norm_forward(x.data(), gamma.data(), beta.data(), 1e-5, y.data(), mean.data(),
                                    rstd.data(), rows, width);
            return dot(y, r);
        };
        loss();
        std::vector<double> dx(x.size()), dgamma(width), dbeta(width);
        cpu::layer_norm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), r.data(),
                                 dx.data(), dgamma.data(), dbeta.data(), rows, width);
        require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-7});
        require_close(dgamma, numeric_gradient(gamma, loss), {1e-6, 1e-8});
        require_close(dbeta, numeric_gradient(beta, loss), {1e-6, 1e-8});
    }
}

TEST_CASE("layer_norm backward through the backend: float vs double, any thread count",
          "[ops][layer_norm]") {
    const int64_t rows = 96, width = 500;
    const auto x = random_vector<double>(rows * width, 14, 2.0);
    const auto gamma = random_vector<double>(width, 15), beta = random_vector<double>(width, 16);
    const auto dy = random_vector<double>(rows * width, 17);
    std::vector<double> y(x.size()), mean(rows), rstd(rows), dx(x.size()), dgamma(width), dbeta(width);
    cpu::layer_norm_forward(x.data(), gamma.data(), beta.data(), 1e-5, y.data(), mean.data(),
                            rstd.data(), rows, width);
    cpu::layer_norm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                             dgamma.data(), dbeta.data(), rows, width);

    const Shape xs{rows, width}, ws{width}, rs{rows};
    Buffer<float> xb = to_backend(as_float(x)), gb = to_backend(as_float(gamma)),
                  bb = to_backend(as_float(beta)), dyb = to_backend(as_float(dy)),
                  yb = poisoned<float>(rows * width), mb = poisoned<float>(rows),
                  rb = poisoned<float>(rows);
    backend().layer_norm_forward(xb.view(xs), gb.view(ws), bb.view(ws), 1e-5f, yb.view(xs),
                                 mb.view(rs), rb.view(rs));
    std::vector<std::vector<float>> results;  // dx, dgamma, dbeta for 1, 2 and 3 threads
    for (int threads : {1, 2, 3})
        with_threads(threads, [&] {
            Buffer<float> dxb = poisoned<float>(rows * width), dgb = poisoned<float>(width),
                          dbb = poisoned<float>(width);
            backend().layer_norm_backward(xb.view(xs), gb.view(ws), mb.view(rs), rb.view(rs),
                                          dyb.view(xs), dxb.view(xs), dgb.view(ws), dbb.view(ws));
            results.push_back(dxb.download());
            results.push_back(dgb.download());
            results.push_back(dbb.download());
        });
    require_close(results[0], dx, {1e-4, 1e-5});
    require_close(results[1], dgamma, {1e-4, 1e-5});
    require_close(results[2], dbeta, {1e-4, 1e-5});
    for (size_t i = 3; i < results.size(); ++i) REQUIRE(results[i] == results[i % 3]);

    // dx is optional, as every input gradient.
    Buffer<float> dgb = poisoned<float>(width), dbb = poisoned<float>(width);
    backend().layer_norm_backward(xb.view(xs), gb.view(ws), mb.view(rs), rb.view(rs), dyb.view(xs),
                                  Tensor{}, dgb.view(ws), dbb.view(ws));
    REQUIRE(dgb.download() == results[1]);
}

TEST_CASE("layer_norm rejects mismatched shapes", "[ops][layer_norm]") {
    Buffer<float> x(backend(), 60), g(backend(), 12), m(backend(), 5), y(backend(), 60);
    REQUIRE_THROWS_WITH(backend().layer_norm_forward(x.view({5, 12}), g.view({10}), g.view({10}), 1e-5f,
                                                     y.view({5, 12}), m.view({5}), m.view({5})),
                        Catch::Contains("gamma has shape [10], expected [12]"));
    REQUIRE_THROWS_WITH(backend().layer_norm_forward(x.view({5, 12}), g.view({12}), g.view({12}), 1e-5f,
                                                     y.view({6, 10}), m.view({5}), m.view({5})),
                        Catch::Contains("must be shaped like gamma / x"));
    REQUIRE_THROWS_WITH(backend().layer_norm_forward(x.view({60}), g.view({12}), g.view({12}), 1e-5f,
                                                     y.view({60}), m.view({5}), m.view({5})),
                        Catch::Contains("layer_norm wants x [N, D]"));
    REQUIRE_THROWS_WITH(backend().layer_norm_backward(x.view({5, 12}), g.view({12}), m.view({5}),
                                                      m.view({4}), y.view({5, 12}), y.view({5, 12}),
                                                      g.view({12}), g.view({12})),
                        Catch::Contains("rstd has shape [4], expected [5]"));
    REQUIRE_THROWS_WITH(backend().layer_norm_backward(x.view({5, 12}), g.view({12}), m.view({5}),
                                                      m.view({5}), y.view({5, 12}), y.view({5, 12}),
                                                      g.view({12}), g.view({11})),
                        Catch::Contains("dbeta"));
}

// ---------------------------------------------------------------- dropout
TEST_CASE("dropout's mask is the formula of DropoutSpec", "[ops][dropout]") {
    // An offset that is not a multiple of 4 and a count that is not one either; then counters
    // whose block index c >> 2 needs its high 32 bits.
    for (const DropoutSpec spec :
         {DropoutSpec{0.3f, 1234, 5}, DropoutSpec{0.5f, 0xDEADBEEFCAFEull, (uint64_t{1} << 34) - 9}}) {
        CAPTURE(spec.p, spec.seed, spec.offset);
        const int64_t count = 4099;  // more than one CPU chunk of 1024, not a multiple of it
        std::vector<float> x(count);
        for (int64_t i = 0; i < count; ++i) x[i] = 0.5f + float(i % 17);  // never 0
        Buffer<float> xb = to_backend(x), yb = poisoned<float>(count);
        backend().dropout_forward(xb.view(), yb.view(), spec);
        const std::vector<float> y = yb.download();
        const float scale = 1.0f / (1.0f - spec.p);
        int64_t wrong = 0, first_wrong = -1;
        for (int64_t i = 0; i < count; ++i) {
            const bool kept = kept_by_formula(spec, uint64_t(i));
            const bool ok = dropout_keep(spec.seed, spec.offset + uint64_t(i), spec.p) == kept &&
                            y[i] == (kept ? x[i] * scale : 0.0f);
            if (!ok && wrong++ == 0) first_wrong = i;
        }
        INFO("first wrong element " << first_wrong << " of " << count);
        REQUIRE(wrong == 0);
        // The mask belongs to the counter, not to the position in this call: starting 7 elements
        // later with an offset 7 larger gives the tail of the same result.
        Buffer<float> tail = poisoned<float>(count - 7);
        backend().dropout_forward(Tensor{xb.data() + 7, {count - 7}}, tail.view(),
                                  DropoutSpec{spec.p, spec.seed, spec.offset + 7});
        REQUIRE(tail.download() == std::vector<float>(y.begin() + 7, y.end()));
        // Backward applies the same mask to the gradient.
        Buffer<float> dxb = poisoned<float>(count);
        backend().dropout_backward(xb.view(), dxb.view(), spec);
        REQUIRE(dxb.download() == y);
    }
}

TEST_CASE("dropout: reproducible, seed and offset change the mask, keeps 1 - p, scales by 1/(1-p)",
          "[ops][dropout]") {
    const int64_t count = 100000;
    Buffer<float> ones = to_backend(std::vector<float>(count, 1.0f));
    const auto run = [&](DropoutSpec spec) {
        Buffer<float> y = poisoned<float>(count);
        backend().dropout_forward(ones.view(), y.view(), spec);
        return y.download();
    };
    for (const float p : {0.1f, 0.3f, 0.5f, 0.9f}) {
        CAPTURE(p);
        const DropoutSpec spec{p, 42, 1000};
        const std::vector<float> y = run(spec);
        REQUIRE(run(spec) == y);
        int64_t kept = 0, other_values = 0;
        for (float v : y) {
            kept += v != 0.0f;
            other_values += v != 0.0f && v != 1.0f / (1.0f - p);
        }
        REQUIRE(other_values == 0);  // kept values are scaled by 1 / (1 - p), the rest are 0
        const double fraction = double(kept) / double(count);
        const double standard_error = std::sqrt(double(p) * (1.0 - double(p)) / double(count));
        CAPTURE(fraction, standard_error);
        REQUIRE(std::abs(fraction - (1.0 - double(p))) < 4.0 * standard_error);

        // Another seed or offset: an independent mask, agreeing where two independent draws would.
        for (const DropoutSpec other :
             {DropoutSpec{p, 43, 1000}, DropoutSpec{p, 42, 1000 + uint64_t(count)}}) {
            const std::vector<float> z = run(other);
            int64_t same = 0;
            for (int64_t i = 0; i < count; ++i) same += (y[i] != 0.0f) == (z[i] != 0.0f);
            const double agree = double(p) * double(p) + (1.0 - double(p)) * (1.0 - double(p));
            REQUIRE(std::abs(double(same) / double(count) - agree) < 0.01);
        }
    }
    // p = 1 drops everything; p = 0 is the identity, bit for bit, NaN included.
    const std::vector<float> all_dropped = run(DropoutSpec{1.0f, 42, 0});
    REQUIRE(std::count(all_dropped.begin(), all_dropped.end(), 0.0f) == count);
    auto x = random_vector<float>(1001, 18);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    Buffer<float> xb = to_backend(x), yb = poisoned<float>(1001);
    backend().dropout_forward(xb.view(), yb.view(), DropoutSpec{0.0f, 42, 7});
    const std::vector<float> y = yb.download();
    REQUIRE(std::isnan(y[3]));
    REQUIRE(std::vector<float>(y.begin(), y.begin() + 3) == std::vector<float>(x.begin(), x.begin() + 3));
    REQUIRE(std::vector<float>(y.begin() + 4, y.end()) == std::vector<float>(x.begin() + 4, x.end()));
    backend().dropout_backward(xb.view(), xb.view(), DropoutSpec{0.0f, 42, 7});  // in place
    REQUIRE(std::isnan(xb.download()[3]));
    REQUIRE(xb.download()[4] == x[4]);

    Buffer<float> small(backend(), 4);
    REQUIRE_THROWS_WITH(backend().dropout_forward(small.view(), small.view(), DropoutSpec{1.5f, 0, 0}),
                        Catch::Contains("dropout probability 1.5 outside [0, 1]"));
    REQUIRE_THROWS_WITH(backend().dropout_forward(small.view(), yb.view(), DropoutSpec{0.5f, 0, 0}),
                        Catch::Contains("dropout_forward: sizes differ"));
}

TEST_CASE("dropout in place and its gradient by finite differences", "[ops][dropout][gradient]") {
    for (const DropoutSpec& spec : kDropouts) {
        CAPTURE(spec.p);
        const int64_t count = 1031;
        auto x = random_vector<double>(count, 19);
        const auto r = random_vector<double>(count, 20);
        std::vector<double> y(count), dx(count);
        const auto loss = [&] {
            cpu::dropout(x.data(), y.data(), count, spec);
            return dot(y, r);
        };
        cpu::dropout(r.data(), dx.data(), count, spec);  // backward = the same masked scaling
        require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-8});

        Buffer<float> xb = to_backend(as_float(x)), yb = poisoned<float>(count);
        backend().dropout_forward(xb.view(), yb.view(), spec);
        backend().dropout_forward(xb.view(), xb.view(), spec);
        REQUIRE(xb.download() == yb.download());
    }
}

// ---------------------------------------------------------------- attention
TEST_CASE("attention forward matches the definition", "[ops][attention]") {
    for (const AttentionDims& d : kAttentionShapes)
    for (const DropoutSpec& dropout : kDropouts) {
        CAPTURE(d.batch, d.seq, d.dim, d.heads, dropout.p);
        auto qkv = random_vector<double>(d.batch * d.seq * 3 * d.dim, 21, 2.0);
        for (double& v : qkv) v = double(float(v));
        const auto [probs, out] = attention_reference(qkv, d, dropout);
        const Shape qs{d.batch, d.seq, 3 * d.dim}, ps{d.batch, d.heads, d.seq, d.seq},
            os{d.batch, d.seq, d.dim};
        Buffer<float> qb = to_backend(as_float(qkv)), pb = poisoned<float>(ps.numel()),
                      ob = poisoned<float>(os.numel());
        backend().attention_forward(qb.view(qs), int(d.heads), dropout, pb.view(ps), ob.view(os));
        require_close(pb.download(), probs, {1e-5, 1e-7});
        require_close(ob.download(), out, {1e-5, 1e-6});
    }
}

TEST_CASE("attention softmax is stable for large scores", "[ops][attention]") {
    const AttentionDims d{2, 4, 16, 2};
    auto qkv = random_vector<double>(d.batch * d.seq * 3 * d.dim, 22, 40.0);  // scores in the thousands
    for (double& v : qkv) v = double(float(v));
    const auto [probs, out] = attention_reference(qkv, d, DropoutSpec{});
    Buffer<float> qb = to_backend(as_float(qkv)), pb = poisoned<float>(2 * 2 * 4 * 4),
                  ob = poisoned<float>(2 * 4 * 16);
    backend().attention_forward(qb.view({2, 4, 48}), 2, DropoutSpec{}, pb.view({2, 2, 4, 4}),
                                ob.view({2, 4, 16}));
    require_close(pb.download(), probs, {1e-4, 1e-6});
    require_close(ob.download(), out, {1e-4, 1e-4});
}

TEST_CASE("attention backward matches finite differences", "[ops][attention][gradient]") {
    for (const AttentionDims& d :
         std::vector<AttentionDims>{{1, 1, 4, 1}, {2, 3, 6, 3}, {1, 4, 8, 2}, {2, 5, 7, 1}})
    for (const DropoutSpec& dropout : kDropouts) {
        CAPTURE(d.batch, d.seq, d.dim, d.heads, dropout.p);
        auto qkv = random_vector<double>(d.batch * d.seq * 3 * d.dim, 23, 1.5);
        const auto r = random_vector<double>(d.batch * d.seq * d.dim, 24);
        std::vector<double> probs(d.batch * d.heads * d.seq * d.seq), out(r.size()), dqkv(qkv.size());
        const auto loss = [&] {
            cpu::attention_forward(qkv.data(), probs.data(), out.data(), d, dropout);
            return dot(out, r);
        };
        loss();
        cpu::attention_backward(qkv.data(), probs.data(), r.data(), dqkv.data(), d, dropout);
        require_close(dqkv, numeric_gradient(qkv, loss), {1e-6, 1e-8});
    }
}

TEST_CASE("attention backward through the backend: float vs double, any thread count",
          "[ops][attention]") {
    for (const AttentionDims& d : {AttentionDims{32, 3, 500, 5}, AttentionDims{3, 9, 40, 8}})
    for (const DropoutSpec& dropout : kDropouts) {
        CAPTURE(d.batch, d.seq, d.dim, d.heads, dropout.p);
        const auto qkv = random_vector<double>(d.batch * d.seq * 3 * d.dim, 25);
        const auto dout = random_vector<double>(d.batch * d.seq * d.dim, 26);
        std::vector<double> probs(d.batch * d.heads * d.seq * d.seq), out(dout.size()), dqkv(qkv.size());
        cpu::attention_forward(qkv.data(), probs.data(), out.data(), d, dropout);
        cpu::attention_backward(qkv.data(), probs.data(), dout.data(), dqkv.data(), d, dropout);

        const Shape qs{d.batch, d.seq, 3 * d.dim}, ps{d.batch, d.heads, d.seq, d.seq},
            os{d.batch, d.seq, d.dim};
        Buffer<float> qb = to_backend(as_float(qkv)), db = to_backend(as_float(dout)),
                      pb = poisoned<float>(ps.numel()), ob = poisoned<float>(os.numel());
        backend().attention_forward(qb.view(qs), int(d.heads), dropout, pb.view(ps), ob.view(os));
        std::vector<std::vector<float>> results;
        for (int threads : {1, 2, 3})
            with_threads(threads, [&] {
                Buffer<float> dqb = poisoned<float>(qs.numel());
                backend().attention_backward(qb.view(qs), int(d.heads), dropout, pb.view(ps),
                                             db.view(os), dqb.view(qs));
                results.push_back(dqb.download());
            });
        require_close(results[0], dqkv, {1e-4, 1e-5});
        REQUIRE(results[1] == results[0]);
        REQUIRE(results[2] == results[0]);
    }
}

TEST_CASE("attention rejects mismatched shapes", "[ops][attention]") {
    Buffer<float> qkv(backend(), 2 * 3 * 30), probs(backend(), 2 * 5 * 9), out(backend(), 2 * 3 * 10);
    REQUIRE_THROWS_WITH(backend().attention_forward(qkv.view({2, 3, 30}), 3, DropoutSpec{},
                                                    probs.view({2, 3, 3, 3}), out.view({2, 3, 10})),
                        Catch::Contains("3 heads do not divide the width D = 10"));
    REQUIRE_THROWS_WITH(backend().attention_forward(qkv.view({2, 3, 29}), 1, DropoutSpec{},
                                                    probs.view({2, 1, 3, 3}), out.view({2, 3, 10})),
                        Catch::Contains("attention wants qkv [B, S, 3D]"));
    REQUIRE_THROWS_WITH(backend().attention_forward(qkv.view({2, 3, 30}), 5, DropoutSpec{},
                                                    probs.view({2, 5, 3, 2}), out.view({2, 3, 10})),
                        Catch::Contains("probs has shape [2, 5, 3, 2], expected [2, 5, 3, 3]"));
    REQUIRE_THROWS_WITH(backend().attention_forward(qkv.view({2, 3, 30}), 5, DropoutSpec{},
                                                    probs.view({2, 5, 3, 3}), out.view({2, 3, 9})),
                        Catch::Contains("out has shape"));
    REQUIRE_THROWS_WITH(backend().attention_backward(qkv.view({2, 3, 30}), 5, DropoutSpec{},
                                                     probs.view({2, 5, 3, 3}), out.view({2, 3, 10}),
                                                     qkv.view({2, 90})),
                        Catch::Contains("dqkv [2, 90] vs qkv [2, 3, 30]"));
    REQUIRE_THROWS_WITH(backend().attention_forward(qkv.view({2, 3, 30}), 5, DropoutSpec{-0.1f, 0, 0},
                                                    probs.view({2, 5, 3, 3}), out.view({2, 3, 10})),
                        Catch::Contains("outside [0, 1]"));
}

// ---------------------------------------------------------------- MSE loss
TEST_CASE("MSE loss: value and gradient", "[ops][mse_loss][gradient]") {
    // By hand: pred (1, 2, 3), target (0, 2, 5): loss (1 + 0 + 4) / 3 = 5/3, dpred = 2 (1, 0, -2) / 3.
    Buffer<float> pred = to_backend(std::vector<float>{1, 2, 3}),
                  target = to_backend(std::vector<float>{0, 2, 5});
    Buffer<float> loss = poisoned<float>(1), dpred = poisoned<float>(3);
    backend().mse_loss_forward(pred.view(), target.view(), loss.view({1}));
    backend().mse_loss_backward(pred.view(), target.view(), dpred.view());
    require_close(loss.download(), std::vector<double>{5.0 / 3.0}, {1e-7, 0});
    require_close(dpred.download(), (std::vector<double>{2.0 / 3.0, 0.0, -4.0 / 3.0}), {1e-7, 0});

    for (const Shape shape : {Shape{1}, Shape{32, 500}, Shape{7, 13}}) {
        CAPTURE(shape.str());
        auto p = random_vector<double>(shape.numel(), 27), t = random_vector<double>(shape.numel(), 28);
        double expected = 0;
        for (size_t i = 0; i < p.size(); ++i)
            expected += std::pow(double(float(p[i])) - double(float(t[i])), 2);
        expected /= double(p.size());
        Buffer<float> pb = to_backend(as_float(p)), tb = to_backend(as_float(t)), lb = poisoned<float>(1);
        backend().mse_loss_forward(pb.view(shape), tb.view(shape), lb.view({1}));
        require_close(lb.download(), std::vector<double>{expected}, {1e-6, 0});

        if (p.size() > 100) continue;  // finite differences are O(size^2)
        std::vector<double> value(1), grad(p.size());
        const auto f = [&] {
            cpu::mse_loss_forward(p.data(), t.data(), value.data(), int64_t(p.size()));
            return value[0];
        };
        cpu::mse_loss_backward(p.data(), t.data(), grad.data(), int64_t(p.size()));
        require_close(grad, numeric_gradient(p, f), {1e-6, 1e-9});
    }

    Buffer<float> other(backend(), 4);
    REQUIRE_THROWS_WITH(backend().mse_loss_forward(pred.view({3}), other.view({3, 1}), loss.view({1})),
                        Catch::Contains("mse_loss_forward: pred [3] and target [3, 1] must have the same"));
    REQUIRE_THROWS_WITH(backend().mse_loss_forward(pred.view({3}), target.view({3}), other.view({2})),
                        Catch::Contains("loss has shape [2], expected [1]"));
    REQUIRE_THROWS_WITH(backend().mse_loss_backward(pred.view({3}), target.view({3}), other.view({4})),
                        Catch::Contains("dpred [4] vs pred [3]"));
}

// ---------------------------------------------------------------- Adam
// lr 0.1, betas (0.5, 0.75), eps 0.01 on p = (1, -2, 0.5); the formulas of the Backend comment:
//   m = 0.5 m + 0.5 g;  v = 0.75 v + 0.25 g^2;
//   p -= lr / (1 - 0.5^t) * m / (sqrt(v) / sqrt(1 - 0.75^t) + eps)
TEST_CASE("Adam follows torch.optim.Adam", "[ops][adam]") {
    Buffer<float> params = to_backend(std::vector<float>{1.0f, -2.0f, 0.5f}), grads(backend(), 3),
                  m(backend(), 3), v(backend(), 3);
    backend().fill(m.view(), 0.0f);
    backend().fill(v.view(), 0.0f);
    const AdamConfig config{0.1f, 0.5f, 0.75f, 0.01f};

    // Step 1, g = (0.5, -1, 2): m = (0.25, -0.5, 1), v = (0.0625, 0.25, 1);
    // 1 - 0.5 = 0.5, sqrt(1 - 0.75) = 0.5: step size 0.2, denom = sqrt(v) / 0.5 + 0.01 = (0.51, 1.01, 2.01);
    // p = (1 - 0.05/0.51, -2 + 0.1/1.01, 0.5 - 0.2/2.01) = (0.90196078, -1.90099010, 0.40049751).
    grads.upload({0.5f, -1.0f, 2.0f});
    backend().adam_update(params.view(), grads.view(), m.view(), v.view(), 1, config);
    require_close(m.download(), (std::vector<double>{0.25, -0.5, 1.0}), {1e-7, 0});
    require_close(v.download(), (std::vector<double>{0.0625, 0.25, 1.0}), {1e-7, 0});
    require_close(params.download(), (std::vector<double>{0.90196078, -1.90099010, 0.40049751}), {1e-6, 0});

    // Step 2, g = (-0.5, 0.25, 2): m = (-0.125, -0.125, 1.5), v = (0.109375, 0.203125, 1.75);
    // 1 - 0.25 = 0.75: step size 0.13333333; sqrt(1 - 0.5625) = 0.66143783;
    // denom = (0.33071891, 0.45069391, 1.32287566) / 0.66143783 + 0.01 = (0.51, 0.69138514, 2.01);
    // p -= 0.13333333 * m / denom = (-0.03267974, -0.02410620, 0.09950249)
    //   = (0.93464052, -1.87688390, 0.30099502).
    grads.upload({-0.5f, 0.25f, 2.0f});
    backend().adam_update(params.view(), grads.view(), m.view(), v.view(), 2, config);
    require_close(m.download(), (std::vector<double>{-0.125, -0.125, 1.5}), {1e-7, 0});
    require_close(v.download(), (std::vector<double>{0.109375, 0.203125, 1.75}), {1e-7, 0});
    require_close(params.download(), (std::vector<double>{0.93464052, -1.87688390, 0.30099502}), {1e-6, 0});

    // Step 3, g = (0.1, 0, -1): m = (-0.0125, -0.0625, 0.25), v = (0.08453125, 0.15234375, 1.5625);
    // 1 - 0.125 = 0.875: step size 0.11428571; sqrt(1 - 0.421875) = 0.76034532;
    // denom = (0.29074258, 0.39031237, 1.25) / 0.76034532 + 0.01 = (0.39238229, 0.52333567, 1.65398987);
    // p -= 0.11428571 * m / denom = (-0.00364076, -0.01364871, 0.01727425)
    //   = (0.93828129, -1.86323519, 0.28372078).
    // torch.optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.01) in float32 (PyTorch 1.13), after
    // each step: (0.90196079, -1.90099013, 0.400497496), (0.934640527, -1.87688398, 0.300994992),
    // (0.938281298, -1.86323524, 0.283720732).
    grads.upload({0.1f, 0.0f, -1.0f});
    backend().adam_update(params.view(), grads.view(), m.view(), v.view(), 3, config);
    require_close(m.download(), (std::vector<double>{-0.0125, -0.0625, 0.25}), {1e-6, 0});
    require_close(v.download(), (std::vector<double>{0.08453125, 0.15234375, 1.5625}), {1e-6, 0});
    require_close(params.download(), (std::vector<double>{0.93828129, -1.86323519, 0.28372078}), {1e-6, 0});
    require_close(params.download(), (std::vector<double>{0.938281298, -1.86323524, 0.283720732}), {2e-7, 0});
}

TEST_CASE("Adam with PyTorch's defaults matches torch.optim.Adam(lr=1e-3)", "[ops][adam]") {
    // torch.optim.Adam([p], lr=1e-3) on p = (0.3, -0.7), gradients (1, -2), (0.5, 0.5), (-0.25, 3):
    // p after each step, in float32 (PyTorch 1.13).
    const std::vector<std::vector<float>> gradients = {{1.0f, -2.0f}, {0.5f, 0.5f}, {-0.25f, 3.0f}};
    const std::vector<std::vector<double>> torch = {
        {0.299000025, -0.699000001}, {0.298067838, -0.698530555}, {0.297504187, -0.698851824}};
    Buffer<float> params = to_backend(std::vector<float>{0.3f, -0.7f}), grads(backend(), 2),
                  m(backend(), 2), v(backend(), 2);
    backend().fill(m.view(), 0.0f);
    backend().fill(v.view(), 0.0f);
    AdamConfig config;
    config.learning_rate = 1e-3f;
    for (int step = 1; step <= 3; ++step) {
        grads.upload(gradients[step - 1]);
        backend().adam_update(params.view(), grads.view(), m.view(), v.view(), step, config);
        require_close(params.download(), torch[step - 1], {2e-7, 0});
    }
    REQUIRE_THROWS_WITH(backend().adam_update(params.view(), grads.view(), m.view(), v.view(), 0, config),
                        Catch::Contains("adam_update: step 0"));
    Buffer<float> three(backend(), 3);
    REQUIRE_THROWS_WITH(backend().adam_update(params.view(), grads.view(), three.view(), v.view(), 4, config),
                        Catch::Contains("adam_update: sizes differ"));
}
