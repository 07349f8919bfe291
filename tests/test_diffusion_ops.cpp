// The diffusion forecaster's ops on the CPU backend (normal_fill, timestep_embedding, row_combine),
// as test_transformer_ops.cpp does for the transformer's:
// - normal_fill against its defining formula (Box-Muller on Philox words, computed here in double
//   from philox4x32 directly), its statistics over 1e5 draws, its independence of how a tensor is
//   split into calls and of the thread count, seeds and offsets that change it, and finite draws
//   at the generator's extreme word (u1 = 2^-24, never 0);
// - timestep_embedding and row_combine forward on hand-computed values, and against the
//   definition in double on random inputs (row_combine bit for bit: one float rounding per op);
// - backward by central finite differences in double on the same templated code (engine/cpu),
//   for the scalar L = sum(out * r) with a random upstream gradient r;
// - outputs aliasing inputs (row_combine), optional (empty) gradients, and shape mistakes rejected
//   with clear messages.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "tests/backend_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {

// The normal draw of Backend::normal_fill spelled out in double from philox4x32 (not from
// standard_normal): block `counter` of seed's kNoise stream, u1 = (w0 >> 8) + 1 over 2^24 in
// (0, 1], u2 = (w1 >> 8) over 2^24 in [0, 1), sqrt(-2 ln u1) cos(2 pi u2).
double normal_by_formula(uint64_t seed, uint64_t counter) {
    const PhiloxBlock bits = philox4x32({uint32_t(counter), uint32_t(counter >> 32), uint32_t(RngStream::kNoise), 0u},
                                        seed);
    const double u1 = (double(bits[0] >> 8) + 1.0) / 16777216.0, u2 = double(bits[1] >> 8) / 16777216.0;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// A float tensor's values from the backend.
std::vector<float> filled(int64_t count, uint64_t seed, uint64_t offset) {
    Buffer<float> x = poisoned<float>(count);
    backend().normal_fill(x.view(), seed, offset);
    return x.download();
}

// The frequency f_i = 10000^(-i/h) of the definition, in double.
double frequency(int64_t i, int64_t half) { return std::pow(10000.0, -double(i) / double(half)); }

}  // namespace

// ---------------------------------------------------------------- normal_fill
TEST_CASE("normal_fill draws Box-Muller normals from Philox counter offset + i", "[ops][normal_fill]") {
    const int64_t count = 4099;
    for (const auto& [seed, offset] : std::vector<std::pair<uint64_t, uint64_t>>{
             {0, 0}, {7, 0}, {7, 123456}, {99, uint64_t(1) << 33}}) {  // a counter past 32 bits
        CAPTURE(seed, offset);
        const auto x = filled(count, seed, offset);
        std::vector<double> expected(count);
        for (int64_t i = 0; i < count; ++i) expected[i] = normal_by_formula(seed, offset + uint64_t(i));
        // Float against the same formula in double: log, sqrt, cos round once each (a few 1e-7
        // relative), and the angle 2 pi u2 carries float(2 pi)'s and the product's roundings, up to
        // 6.3 * 9e-8 = 5.6e-7 absolute, times the radius sqrt(-2 ln u1) <= 5.77: 3.2e-6 absolute.
        // Measured: 2.3e-6 at worst. A wrong word, shift or constant is off by O(1).
        require_close(x, expected, {1e-6, 4e-6});
        // standard_normal is the function the backend calls, element by element.
        for (int64_t i = 0; i < count; ++i) REQUIRE(x[i] == standard_normal(seed, offset + uint64_t(i)));
    }
}

TEST_CASE("normal_fill does not depend on how the tensor is split, nor on the thread count",
          "[ops][normal_fill]") {
    const int64_t n = 100001;  // odd: halves of different sizes
    const uint64_t seed = 42, offset = 1000;
    const auto whole = filled(n, seed, offset);
    // Two halves, each filled with its own offset: the same values.
    Buffer<float> halves = poisoned<float>(n);
    const int64_t first = n / 2;
    backend().normal_fill(Tensor{halves.view().data, {first}}, seed, offset);
    backend().normal_fill(Tensor{halves.view().data + first, {n - first}}, seed, offset + uint64_t(first));
    require_same_bits(halves.download(), whole, "two halves");
    // Uneven pieces, through shaped views: [3, 7], [1], the rest as [rows, 11].
    Buffer<float> pieces = poisoned<float>(n);
    float* p = pieces.view().data;
    backend().normal_fill(Tensor{p, {3, 7}}, seed, offset);
    backend().normal_fill(Tensor{p + 21, {1}}, seed, offset + 21);
    const int64_t rest = n - 22;
    REQUIRE(rest % 11 == 0);
    backend().normal_fill(Tensor{p + 22, {rest / 11, 11}}, seed, offset + 22);
    require_same_bits(pieces.download(), whole, "three pieces");
    // A shifted offset is a shifted sequence.
    const auto shifted = filled(n - 5, seed, offset + 5);
    require_same_bits(shifted, std::vector<float>(whole.begin() + 5, whole.end()), "offset + 5");
    for (int threads : {1, 2, 3})
        with_threads(threads, [&] { require_same_bits(filled(n, seed, offset), whole, "threads"); });
    // An empty tensor writes nothing.
    Buffer<float> guard = to_backend(std::vector<float>{1.5f});
    backend().normal_fill(Tensor{guard.view().data, {0, 60}}, seed, offset);
    REQUIRE(guard.download() == std::vector<float>{1.5f});
}

TEST_CASE("normal_fill: mean 0, variance 1 over 1e5 draws; seeds and offsets change the draws",
          "[ops][normal_fill]") {
    const int64_t n = 100000;
    for (const uint64_t seed : {1u, 2u, 12345u}) {
        CAPTURE(seed);
        const auto x = filled(n, seed, 0);
        double sum = 0, sum_sq = 0, sum_4 = 0;
        int64_t within_one = 0;
        for (const float v : x) {
            REQUIRE(std::isfinite(v));
            // u1 >= 2^-24, so |x| <= sqrt(-2 ln 2^-24) = sqrt(48 ln 2) = 5.7681...
            REQUIRE(std::abs(v) <= 5.7682f);
            sum += v;
            sum_sq += double(v) * v;
            sum_4 += std::pow(double(v), 4);
            within_one += std::abs(v) < 1.0f;
        }
        const double mean = sum / n, var = sum_sq / n - mean * mean;
        // Bounds of 5 standard errors, for a normal sample of n (a false failure has odds ~1e-6
        // per check; the seeds are fixed, so the test is deterministic anyway):
        // mean: sd 1/sqrt(n) = 0.0032; variance: sd sqrt(2/n) = 0.0045; E x^4 = 3: sd sqrt(96/n) =
        // 0.031; P(|x| < 1) = 0.682689: sd sqrt(p(1-p)/n) = 0.0015.
        CHECK(std::abs(mean) < 5 * 0.0032);
        CHECK(std::abs(var - 1.0) < 5 * 0.0045);
        CHECK(std::abs(sum_4 / n - 3.0) < 5 * 0.031);
        CHECK(std::abs(double(within_one) / n - 0.682689) < 5 * 0.0015);
    }
    // Another seed, or an offset not a multiple of anything in particular, gives other draws:
    // not one element in common (a match has odds ~2^-24 per element).
    const auto a = filled(1000, 1, 0), b = filled(1000, 2, 0), c = filled(1000, 1, 1000);
    int64_t same_seed = 0, same_offset = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        same_seed += a[i] == b[i];
        same_offset += a[i] == c[i];
    }
    CHECK(same_seed == 0);
    CHECK(same_offset == 0);
}

TEST_CASE("normal_fill stays finite at the smallest u1 (a zero Philox word)", "[ops][normal_fill]") {
    // Find a counter whose first word has (w0 >> 8) == 0, the smallest u1 = 2^-24: log(0) there
    // would give inf (odds 2^-24 per counter: ~1.7e7 Philox blocks, well under a second).
    const uint64_t seed = 3;
    uint64_t counter = 0;
    for (; counter < (uint64_t(1) << 28); ++counter)
        if ((philox4x32({uint32_t(counter), uint32_t(counter >> 32), uint32_t(RngStream::kNoise), 0u}, seed)[0] >>
             8) == 0)
            break;
    REQUIRE(counter < (uint64_t(1) << 28));
    CAPTURE(counter);
    const float x = standard_normal(seed, counter);
    REQUIRE(std::isfinite(x));
    REQUIRE(double(x) == Approx(normal_by_formula(seed, counter)).epsilon(1e-6));
    REQUIRE(std::abs(x) <= 5.7682f);  // sqrt(-2 ln 2^-24), times |cos|
    // The backend draws it too, at that counter.
    REQUIRE(filled(1, seed, counter)[0] == x);
}

// ---------------------------------------------------------------- timestep_embedding
TEST_CASE("timestep_embedding forward on hand-computed values", "[ops][timestep_embedding]") {
    // t = 0: sin 0 = 0 in the first half, cos 0 = 1 in the second, at every width.
    for (const int64_t width : {2, 4, 64, 130}) {
        CAPTURE(width);
        Buffer<float> t = to_backend(std::vector<float>{0.0f, 0.0f}), emb = poisoned<float>(2 * width);
        backend().timestep_embedding_forward(t.view({2}), emb.view({2, width}));
        std::vector<float> expected(2 * width, 1.0f);
        for (int64_t r = 0; r < 2; ++r)
            for (int64_t i = 0; i < width / 2; ++i) expected[r * width + i] = 0.0f;
        require_same_bits(emb.download(), expected, "t = 0");
    }
    // E = 4: f = [1, 10000^(-1/2) = 0.01]; rows t = 1, 100, pi/2.
    const std::vector<float> t_host = {1.0f, 100.0f, float(std::numbers::pi / 2)};
    Buffer<float> t = to_backend(t_host), emb = poisoned<float>(3 * 4);
    backend().timestep_embedding_forward(t.view({3}), emb.view({3, 4}));
    const std::vector<double> expected = {
        0.8414709848078965,  0.0099998333341667,  0.5403023058681398,  0.9999500004166653,   // t = 1
        -0.5063656411097588, 0.8414709848078965,  0.8623188722876839,  0.5403023058681398,   // t = 100
        1.0,                 0.0157073173118207,  0.0,                 0.9998766324816606};  // t = pi/2
    // One float rounding of f_1 (0.01 is not a float) and of the angle: a few 1e-7, times the
    // angle (100) for the row at t = 100.
    require_close(emb.download(), expected, {1e-6, 1e-6});
}

TEST_CASE("timestep_embedding forward matches the definition up to t = 1000", "[ops][timestep_embedding]") {
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {7, 64}, {300, 10}, {33, 1000}}) {
        CAPTURE(rows, width);
        const int64_t half = width / 2;
        auto t = random_vector<float>(rows, 30);
        for (float& v : t) v = std::round(500.0f * (v + 1.0f));  // integer steps 0..1000, as DDPM's
        t[0] = 1000.0f;
        std::vector<double> expected(rows * width);
        std::vector<float> angle(rows * width);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < half; ++i) {
                const double a = double(t[r]) * frequency(i, half);
                expected[r * width + i] = std::sin(a);
                expected[r * width + half + i] = std::cos(a);
                angle[r * width + i] = angle[r * width + half + i] = float(std::abs(a));
            }
        Buffer<float> tb = to_backend(t), emb = poisoned<float>(rows * width);
        backend().timestep_embedding_forward(tb.view({rows}), emb.view({rows, width}));
        // The float computation rounds -ln(10000) i / h (up to 9.2: ~1.5 ulps of 1e-6 absolute),
        // so f_i is off by ~1.5e-6 relative and the angle t f_i by as much, times the angle (up to
        // 1000: ~1e-3 absolute, the error of any float implementation, PyTorch's too): the
        // tolerance is 2e-6 of (|value| + |angle|), plus 1e-6.
        require_close(emb.download(), expected, Tolerance{2e-6, 1e-6}.with_scale(angle));
        // The double template: the definition to double rounding.
        std::vector<double> t_double(t.begin(), t.end()), emb_double(rows * width);
        cpu::timestep_embedding_forward(t_double.data(), emb_double.data(), rows, width);
        require_close(emb_double, expected, Tolerance{1e-12, 1e-12}.with_scale(angle));
    }
}

TEST_CASE("timestep_embedding backward matches finite differences", "[ops][timestep_embedding][gradient]") {
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {3, 8}, {5, 64}, {2, 130}}) {
        CAPTURE(rows, width);
        auto t = random_vector<double>(rows, 31, 500.0);
        for (double& v : t) v += 500.0;  // 0..1000
        t[0] = 0.0;                       // the derivative at 0: sum_i demb[i] f_i
        const auto r = random_vector<double>(rows * width, 32);
        std::vector<double> emb(rows * width), dt(rows);
        const auto loss = [&] {
            cpu::timestep_embedding_forward(t.data(), emb.data(), rows, width);
            return dot(emb, r);
        };
        cpu::timestep_embedding_backward(t.data(), r.data(), dt.data(), rows, width);
        require_close(dt, numeric_gradient(t, loss), {1e-6, 1e-7});
    }
    // Through the backend in float, against the double template (thread counts give the same
    // bits: one row per iteration, summed in a fixed order). The float angle is off by ~2e-6 of
    // itself (see the forward), so dt by 2e-6 of sum_i |demb| f_i (1 + t f_i).
    const int64_t rows = 97, width = 64, half = width / 2;
    auto t = random_vector<float>(rows, 33, 500.0);
    for (float& v : t) v = std::round(v + 500.0f);
    const auto demb = random_vector<float>(rows * width, 34);
    std::vector<double> t_double(t.begin(), t.end()), demb_double(demb.begin(), demb.end()), expected(rows);
    cpu::timestep_embedding_backward(t_double.data(), demb_double.data(), expected.data(), rows, width);
    std::vector<float> scale(rows);
    for (int64_t b = 0; b < rows; ++b)
        for (int64_t i = 0; i < half; ++i)
            scale[b] += float((std::abs(demb[b * width + i]) + std::abs(demb[b * width + half + i])) *
                              frequency(i, half) * (1.0 + t[b] * frequency(i, half)));
    Buffer<float> tb = to_backend(t), db = to_backend(demb);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3})
        with_threads(threads, [&] {
            Buffer<float> dtb = poisoned<float>(rows);
            backend().timestep_embedding_backward(tb.view({rows}), db.view({rows, width}), dtb.view({rows}));
            results.push_back(dtb.download());
        });
    require_close(results[0], expected, Tolerance{2e-6, 1e-6}.with_scale(scale));
    REQUIRE(results[1] == results[0]);
    REQUIRE(results[2] == results[0]);
}

TEST_CASE("timestep_embedding rejects mismatched shapes", "[ops][timestep_embedding]") {
    Buffer<float> t(backend(), 8), emb(backend(), 64);
    REQUIRE_THROWS_WITH(backend().timestep_embedding_forward(t.view({4}), emb.view({4, 5})),
                        Catch::Contains("timestep_embedding_forward: the embedding width 5 is not even"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_forward(t.view({4}), emb.view({4, 0})),
                        Catch::Contains("the embedding width 0 is not even"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_forward(t.view({3}), emb.view({4, 8})),
                        Catch::Contains("timestep_embedding_forward wants t [B] and emb [B, E], got [3] and [4, 8]"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_forward(t.view({4, 1}), emb.view({4, 8})),
                        Catch::Contains("wants t [B] and emb [B, E]"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_forward(t.view({4}), emb.view({32})),
                        Catch::Contains("wants t [B] and emb [B, E]"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_backward(t.view({4}), emb.view({4, 7}), t.view({4})),
                        Catch::Contains("timestep_embedding_backward: the embedding width 7 is not even"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_backward(t.view({4}), emb.view({4, 8}), t.view({3})),
                        Catch::Contains("timestep_embedding_backward: dt [3] vs t [4]"));
    REQUIRE_THROWS_WITH(backend().timestep_embedding_backward(t.view({4}), emb.view({4, 8}), t.view({4, 1})),
                        Catch::Contains("dt [4, 1] vs t [4]"));
}

// ---------------------------------------------------------------- row_combine
TEST_CASE("row_combine forward on hand-computed values, output over x or y", "[ops][row_combine]") {
    const std::vector<float> a = {2, -1}, c = {0.5f, 3}, x = {1, 2, 3, 4, 5, 6}, y = {10, 20, 30, 1, 1, 1};
    const std::vector<float> expected = {7, 14, 21, -1, -2, -3};
    for (const Shape xs : {Shape{2, 3}, Shape{2, 1, 3}}) {
        CAPTURE(xs.str());
        Buffer<float> ab = to_backend(a), cb = to_backend(c), xb = to_backend(x), yb = to_backend(y),
                      out = poisoned<float>(6);
        backend().row_combine_forward(ab.view({2}), xb.view(xs), cb.view({2}), yb.view(xs), out.view(xs));
        REQUIRE(out.download() == expected);
        backend().row_combine_forward(ab.view({2}), xb.view(xs), cb.view({2}), yb.view(xs), xb.view(xs));
        REQUIRE(xb.download() == expected);  // out over x
        xb.upload(x);
        backend().row_combine_forward(ab.view({2}), xb.view(xs), cb.view({2}), yb.view(xs), yb.view(xs));
        REQUIRE(yb.download() == expected);  // out over y
    }
    // x [B]: one element a row; x = y: (a + c) x.
    Buffer<float> ab = to_backend(a), cb = to_backend(c), xb = to_backend(std::vector<float>{4, 8}),
                  out = poisoned<float>(2);
    backend().row_combine_forward(ab.view({2}), xb.view({2}), cb.view({2}), xb.view({2}), out.view({2}));
    REQUIRE(out.download() == std::vector<float>{10, 16});
    // The noising x_t = sqrt(abar) x0 + sqrt(1 - abar) eps at abar = 0.36: 0.6 x0 + 0.8 eps.
    Buffer<float> s = to_backend(std::vector<float>{0.6f}), n = to_backend(std::vector<float>{0.8f}),
                  x0 = to_backend(std::vector<float>{1, -1, 0.5f}), eps = to_backend(std::vector<float>{0.5f, 0.5f, 0}),
                  xt = poisoned<float>(3);
    backend().row_combine_forward(s.view({1}), x0.view({1, 3}), n.view({1}), eps.view({1, 3}), xt.view({1, 3}));
    require_close(xt.download(), std::vector<double>{1.0, -0.2, 0.3}, {3e-7, 0});  // 0.6, 0.8 are not floats
}

TEST_CASE("row_combine forward rounds a x, c y and their sum once each", "[ops][row_combine]") {
    for (const Shape xs : {Shape{1, 1}, Shape{7, 60}, Shape{300, 257}, Shape{5, 3, 11}, Shape{64}}) {
        CAPTURE(xs.str());
        const int64_t rows = xs[0], count = xs.numel();
        const auto a = random_vector<float>(rows, 40), c = random_vector<float>(rows, 41);
        const auto x = random_vector<float>(count, 42, 3.0), y = random_vector<float>(count, 43, 3.0);
        // Each product and the sum rounded to float on its own (volatile: no FMA can join them).
        std::vector<float> expected(count);
        for (int64_t e = 0; e < count; ++e) {
            const int64_t r = e / (count / rows);
            const volatile float ax = a[r] * x[e], cy = c[r] * y[e];
            expected[e] = ax + cy;
        }
        Buffer<float> ab = to_backend(a), cb = to_backend(c), xb = to_backend(x), yb = to_backend(y),
                      out = poisoned<float>(count);
        for (int threads : {1, 3})
            with_threads(threads, [&] {
                backend().row_combine_forward(ab.view({rows}), xb.view(xs), cb.view({rows}), yb.view(xs), out.view(xs));
                require_same_bits(out.download(), expected, "out");
            });
        backend().row_combine_forward(ab.view({rows}), xb.view(xs), cb.view({rows}), yb.view(xs), yb.view(xs));
        require_same_bits(yb.download(), expected, "out over y");
    }
}

TEST_CASE("row_combine backward on hand-computed values, each gradient optional", "[ops][row_combine]") {
    const std::vector<float> a = {2, -1}, c = {0.5f, 3}, x = {1, 2, 3, 4, 5, 6}, y = {10, 20, 30, 1, 1, 1};
    const std::vector<float> dout = {1, 0, -1, 2, 1, 0.5f};
    const std::vector<float> dx = {2, 0, -2, -2, -1, -0.5f}, dy = {0.5f, 0, -0.5f, 6, 3, 1.5f};
    const std::vector<float> da = {1 - 3, 8 + 5 + 3}, dc = {10 - 30, 2 + 1 + 0.5f};
    Buffer<float> ab = to_backend(a), cb = to_backend(c), xb = to_backend(x), yb = to_backend(y),
                  gb = to_backend(dout);
    const Shape xs{2, 3}, rs{2};
    // All four, then each alone (the others empty), then none.
    for (int mask = 0; mask < 16; ++mask) {
        CAPTURE(mask);
        Buffer<float> dxb = poisoned<float>(6), dyb = poisoned<float>(6), dab = poisoned<float>(2),
                      dcb = poisoned<float>(2);
        backend().row_combine_backward(ab.view(rs), xb.view(xs), cb.view(rs), yb.view(xs), gb.view(xs),
                                       mask & 1 ? dxb.view(xs) : Tensor{}, mask & 2 ? dyb.view(xs) : Tensor{},
                                       mask & 4 ? dab.view(rs) : Tensor{}, mask & 8 ? dcb.view(rs) : Tensor{});
        const auto untouched = [](const std::vector<float>& v) {
            for (float e : v) REQUIRE(std::isnan(e));
        };
        if (mask & 1) REQUIRE(dxb.download() == dx); else untouched(dxb.download());
        if (mask & 2) REQUIRE(dyb.download() == dy); else untouched(dyb.download());
        if (mask & 4) REQUIRE(dab.download() == da); else untouched(dab.download());
        if (mask & 8) REQUIRE(dcb.download() == dc); else untouched(dcb.download());
    }
}

TEST_CASE("row_combine backward matches finite differences", "[ops][row_combine][gradient]") {
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {4, 60}, {2, 257}}) {
        CAPTURE(rows, width);
        auto a = random_vector<double>(rows, 50), c = random_vector<double>(rows, 51);
        auto x = random_vector<double>(rows * width, 52), y = random_vector<double>(rows * width, 53);
        const auto r = random_vector<double>(rows * width, 54);
        std::vector<double> out(rows * width);
        const auto loss = [&] {
            cpu::row_combine_forward(a.data(), x.data(), c.data(), y.data(), out.data(), rows, width);
            return dot(out, r);
        };
        std::vector<double> dx(x.size()), dy(y.size()), da(rows), dc(rows);
        cpu::row_combine_backward(a.data(), x.data(), c.data(), y.data(), r.data(), dx.data(), dy.data(), da.data(),
                                  dc.data(), rows, width);
        // L is linear in each variable: the central difference is exact but for rounding
        // (~1e-16 |L| / eps).
        require_close(dx, numeric_gradient(x, loss), {1e-7, 1e-8}, "dx");
        require_close(dy, numeric_gradient(y, loss), {1e-7, 1e-8}, "dy");
        require_close(da, numeric_gradient(a, loss), {1e-7, 1e-8}, "da");
        require_close(dc, numeric_gradient(c, loss), {1e-7, 1e-8}, "dc");
    }
}

TEST_CASE("row_combine backward through the backend: float vs double, any thread count", "[ops][row_combine]") {
    const int64_t rows = 300, width = 257;
    const Shape xs{rows, width}, rs{rows};
    const auto a = random_vector<float>(rows, 55), c = random_vector<float>(rows, 56);
    const auto x = random_vector<float>(rows * width, 57), y = random_vector<float>(rows * width, 58);
    const auto dout = random_vector<float>(rows * width, 59);
    const auto to_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    const auto ad = to_double(a), cd = to_double(c), xd = to_double(x), yd = to_double(y), gd = to_double(dout);
    std::vector<double> dx(rows * width), dy(rows * width), da(rows), dc(rows);
    cpu::row_combine_backward(ad.data(), xd.data(), cd.data(), yd.data(), gd.data(), dx.data(), dy.data(), da.data(),
                              dc.data(), rows, width);
    Buffer<float> ab = to_backend(a), cb = to_backend(c), xb = to_backend(x), yb = to_backend(y),
                  gb = to_backend(dout);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3})
        with_threads(threads, [&] {
            Buffer<float> dxb = poisoned<float>(rows * width), dyb = poisoned<float>(rows * width),
                          dab = poisoned<float>(rows), dcb = poisoned<float>(rows);
            backend().row_combine_backward(ab.view(rs), xb.view(xs), cb.view(rs), yb.view(xs), gb.view(xs),
                                           dxb.view(xs), dyb.view(xs), dab.view(rs), dcb.view(rs));
            results.push_back(dxb.download());
            results.push_back(dyb.download());
            results.push_back(dab.download());
            results.push_back(dcb.download());
        });
    // dx, dy: one float product each, the double product rounded once (half an ulp).
    require_close(results[0], dx, {6e-8, 0}, "dx");
    require_close(results[1], dy, {6e-8, 0}, "dy");
    // da, dc: the same double sum, in the same order, rounded to float once.
    require_close(results[2], da, {6e-8, 0}, "da");
    require_close(results[3], dc, {6e-8, 0}, "dc");
    for (size_t i = 4; i < results.size(); ++i) REQUIRE(results[i] == results[i % 4]);
}

TEST_CASE("row_combine rejects mismatched shapes and misshapen gradients", "[ops][row_combine]") {
    Buffer<float> v(backend(), 24), s(backend(), 8);
    const Tensor x = v.view({2, 3}), a = s.view({2});
    REQUIRE_THROWS_WITH(backend().row_combine_forward(s.view({3}), x, a, x, x),
                        Catch::Contains("row_combine_forward wants a [B] and c [B] for x [B, ...], got [3], [2] and [2, 3]"));
    REQUIRE_THROWS_WITH(backend().row_combine_forward(a, x, s.view({2, 1}), x, x),
                        Catch::Contains("wants a [B] and c [B]"));
    REQUIRE_THROWS_WITH(backend().row_combine_forward(a, x, a, v.view({2, 4}), x),
                        Catch::Contains("row_combine_forward: x [2, 3], y [2, 4] and out [2, 3] differ"));
    REQUIRE_THROWS_WITH(backend().row_combine_forward(a, x, a, x, v.view({3, 2})),
                        Catch::Contains("row_combine_forward: x [2, 3], y [2, 3] and out [3, 2] differ"));
    REQUIRE_THROWS_WITH(backend().row_combine_forward(a, x, a, x, v.view({6})), Catch::Contains("differ"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(a, x, a, x, v.view({2, 2}), x, x, a, a),
                        Catch::Contains("row_combine_backward: x [2, 3], y [2, 3] and out [2, 2] differ"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(s.view({1}), x, a, x, x, x, x, a, a),
                        Catch::Contains("row_combine_backward wants a [B] and c [B]"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(a, x, a, x, x, v.view({2, 4}), x, a, a),
                        Catch::Contains("row_combine_backward: a gradient [2, 4] is not shaped as x [2, 3]"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(a, x, a, x, x, Tensor{}, v.view({3, 2}), a, a),
                        Catch::Contains("a gradient [3, 2] is not shaped as x [2, 3]"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(a, x, a, x, x, x, x, s.view({3}), a),
                        Catch::Contains("row_combine_backward: a gradient [3] is not shaped as a [2]"));
    REQUIRE_THROWS_WITH(backend().row_combine_backward(a, x, a, x, x, x, x, Tensor{}, s.view({2, 1})),
                        Catch::Contains("a gradient [2, 1] is not shaped as a [2]"));
}
