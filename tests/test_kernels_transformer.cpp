// The CUDA kernels of the transformer's non-attention ops (kernels/add, scatter_rows, layer_norm,
// dropout, mse_loss, adam), each against the CPU backend, the reference. Like
// tests/test_kernels_lenet.cpp, the same file runs emulated on the CPU (twp_kernel_tests) and
// natively on a GPU (twp_kernel_tests_gpu); outputs are poisoned with NaN on the device before
// every launch, so an element a kernel forgets to write fails, and every array sits between
// guards that each download checks (tests/kernel_check.hpp), so a write past either end fails.
//
// Exact (bit for bit): add, add_row_broadcast, scatter_rows, the dropout masks and outputs, the
// MSE gradient and Adam: each is the CPU's float operations in the CPU's order. Layer norm and the
// MSE loss sum in double as the CPU does but in another order, then round to float once; both
// are compared with |a - e| <= 1e-5 * (1 + |e|) (measured: every case also passes with 1.2e-7, about
// one float rounding; a missing term fails by far more), and each reduction is run twice to check
// that it gives the same bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "kernels/adam.cuh"
#include "kernels/add.cuh"
#include "kernels/device_memory.hpp"
#include "kernels/dropout.cuh"
#include "kernels/layer_norm.cuh"
#include "kernels/mse_loss.cuh"
#include "kernels/scatter_rows.cuh"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {

constexpr double kRtol = 1e-5;

bool all_nan(const std::vector<float>& values) {
    return std::all_of(values.begin(), values.end(), [](float v) { return std::isnan(v); });
}

}  // namespace

TEST_CASE("add kernels match the CPU backend bit for bit, in place too", "[kernels][transformer][add]") {
    uint64_t seed = 1000;
    for (const int64_t count : {1, 3, 97, 255, 257, 96 * 500, 100003}) {
        INFO("count " << count);
        const Shape s{count};
        auto a = random_vector<float>(as_size(count), ++seed), b = random_vector<float>(as_size(count), ++seed);
        std::vector<float> y(a.size());
        cpu().add(view(a, s), view(b, s), view(y, s));
        GuardedArray<float> ad = on_device(a), bd = on_device(b), yd = poisoned_floats(count);
        kernels::add(view(ad, s), view(bd, s), view(yd, s), nullptr);
        require_same_bits(download(yd), y, "y", NanMatch::kAnyNan);
        kernels::add(view(ad, s), view(bd, s), view(ad, s), nullptr);  // y over a
        require_same_bits(download(ad), y, "y over a", NanMatch::kAnyNan);
        ad.upload(a);
        kernels::add(view(ad, s), view(bd, s), view(bd, s), nullptr);  // y over b
        require_same_bits(download(bd), y, "y over b", NanMatch::kAnyNan);
    }
    GuardedArray<float> buffer(20);
    CHECK_THROWS_AS(kernels::add(view(buffer, {10}), view(buffer, {9}), view(buffer, {10}), nullptr), Error);
    CHECK_THROWS_AS(kernels::add(view(buffer, {10}), view(buffer, {10}), view(buffer, {11}), nullptr), Error);
}

TEST_CASE("add_row_broadcast kernel matches the CPU backend bit for bit", "[kernels][transformer][add]") {
    struct Case { int64_t rows, width; };
    uint64_t seed = 1100;
    for (const Case c : {Case{1, 1}, Case{3, 5}, Case{97, 1}, Case{97, 32}, Case{3, 500},
                         Case{97, 1000}, Case{1, 1000}, Case{32, 1500}}) {
        INFO("x [" << c.rows << ", " << c.width << "]");
        const Shape xs{c.rows, c.width}, rs{c.width};
        auto x = random_vector<float>(as_size(xs.numel()), ++seed);
        auto row = random_vector<float>(as_size(c.width), ++seed);
        std::vector<float> y(x.size());
        cpu().add_row_broadcast(view(x, xs), view(row, rs), view(y, xs));
        GuardedArray<float> xd = on_device(x), rowd = on_device(row), yd = poisoned_floats(xs.numel());
        kernels::add_row_broadcast(view(xd, xs), view(rowd, rs), view(yd, xs), nullptr);
        require_same_bits(download(yd), y, "y", NanMatch::kAnyNan);
        // In place, and with the transformer's shapes: x [B, S*D] and row [S*D] given as [S, D].
        if (c.width % 5 == 0) {
            kernels::add_row_broadcast(view(xd, {c.rows, 5, c.width / 5}), view(rowd, {5, c.width / 5}),
                                       view(xd, {c.rows, c.width}), nullptr);
            require_same_bits(download(xd), y, "y in place", NanMatch::kAnyNan);
        }
    }
    GuardedArray<float> buffer(100);
    CHECK_THROWS_AS(kernels::add_row_broadcast(view(buffer, {10, 7}), view(buffer, {3}),
                                               view(buffer, {10, 7}), nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::add_row_broadcast(view(buffer, {10, 7}), view(buffer, {7}),
                                               view(buffer, {10, 6}), nullptr),
                    Error);
}

TEST_CASE("scatter_rows kernel matches the CPU backend and leaves other rows alone",
          "[kernels][transformer][scatter_rows]") {
    struct Case { Shape dst; int64_t count; };
    uint64_t seed = 1200;
    for (const Case c : {Case{{1, 1}, 1}, Case{{97, 5}, 3}, Case{{97, 5}, 97}, Case{{96, 500}, 32},
                         Case{{7, 1000}, 7}, Case{{10, 3, 4}, 4}, Case{{3, 1}, 0}}) {
        INFO("dst " << c.dst.str() << ", " << c.count << " rows");
        Shape ss = c.dst;
        ss.dims[0] = c.count;
        auto src = random_vector<float>(as_size(ss.numel()), ++seed);
        auto dst = random_vector<float>(as_size(c.dst.numel()), ++seed);
        // Distinct rows in a shuffled order (the first `count` of a seeded permutation).
        std::vector<int32_t> rows(as_size(c.dst[0]));
        std::iota(rows.begin(), rows.end(), 0);
        Rng rng(++seed, RngStream::kShuffle);
        for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[rng.below(uint32_t(i))]);
        rows.resize(as_size(c.count));
        std::vector<float> expected = dst;
        cpu().scatter_rows(view(src, ss), view(rows, {c.count}), view(expected, c.dst));
        GuardedArray<float> srcd = on_device(src), dstd = on_device(dst);
        GuardedArray<int32_t> rowsd = on_device(rows);
        kernels::scatter_rows(view(srcd, ss), view(rowsd, {c.count}), view(dstd, c.dst), nullptr);
        require_same_bits(download(dstd), expected, "dst", NanMatch::kAnyNan);
    }
    // An index outside dst writes nothing (and nothing out of bounds: ASan checks the emulation).
    GuardedArray<float> src = on_device(random_vector<float>(6, 1250)), dst = poisoned_floats(9);
    GuardedArray<int32_t> rows = on_device(std::vector<int32_t>{-1, 2, 4});
    CHECK_THROWS_AS(kernels::scatter_rows(view(src, {3, 2}), view(rows, {3}), view(dst, {3, 3}), nullptr),
                    Error);  // 2-wide source rows into 3-wide destination rows
    GuardedArray<float> dst2 = poisoned_floats(8);
    kernels::scatter_rows(view(src, {3, 2}), view(rows, {3}), view(dst2, {4, 2}), nullptr);
    const auto written = download(dst2), source = download(src);
    CHECK(std::isnan(written[0]));  // rows 0 and 1: src row 0 names row -1, skipped
    CHECK(std::isnan(written[3]));
    CHECK(written[4] == source[2]);  // src row 1 -> dst row 2
    CHECK(written[5] == source[3]);
    CHECK(std::isnan(written[6]));  // src row 2 names row 4 of 4: skipped
    CHECK(std::isnan(written[7]));
    CHECK_THROWS_AS(kernels::scatter_rows(view(src, {3, 2}), view(rows, {2}), view(dst2, {4, 2}), nullptr),
                    Error);
}

namespace {

struct LayerNormCase { int64_t rows, width; };

std::vector<LayerNormCase> layer_norm_cases() {
    std::vector<LayerNormCase> cases;
    for (const int64_t rows : {1, 3, 97})
        for (const int64_t width : {1, 5, 32, 500, 1000}) cases.push_back({rows, width});
    cases.push_back({96, 500});  // the predictor's: batch 32 x 3 positions, d = 500
    cases.push_back({300, 33});  // many rows per row slice of dgamma/dbeta, an odd width
    return cases;
}

// Values of the given spread around an offset: a mean far from zero tests the two-pass variance.
std::vector<float> shifted(std::vector<float> values, float offset) {
    for (float& v : values) v += offset;
    return values;
}

}  // namespace

TEST_CASE("layer_norm_forward kernel matches the CPU backend", "[kernels][transformer][layer_norm]") {
    uint64_t seed = 1300;
    for (const LayerNormCase c : layer_norm_cases())
        for (const float offset : {0.0f, 30.0f}) {
            INFO("x [" << c.rows << ", " << c.width << "], mean offset " << offset);
            const Shape xs{c.rows, c.width}, ws{c.width}, rs{c.rows};
            const float eps = 1e-5f;
            auto x = shifted(random_vector<float>(as_size(xs.numel()), ++seed, 2.0), offset);
            auto gamma = shifted(random_vector<float>(as_size(c.width), ++seed), 1.0f);
            auto beta = random_vector<float>(as_size(c.width), ++seed);
            std::vector<float> y(x.size()), mean(as_size(c.rows)), rstd(as_size(c.rows));
            cpu().layer_norm_forward(view(x, xs), view(gamma, ws), view(beta, ws), eps, view(y, xs),
                                     view(mean, rs), view(rstd, rs));

            GuardedArray<float> xd = on_device(x), gd = on_device(gamma), bd = on_device(beta);
            GuardedArray<float> yd = poisoned_floats(xs.numel()), md = poisoned_floats(c.rows),
                                 rd = poisoned_floats(c.rows);
            kernels::layer_norm_forward(view(xd, xs), view(gd, ws), view(bd, ws), eps, view(yd, xs),
                                        view(md, rs), view(rd, rs), nullptr);
            const auto actual_y = download(yd), actual_mean = download(md), actual_rstd = download(rd);
            require_close(actual_y, y, {kRtol, kRtol}, "y");
            require_close(actual_mean, mean, {kRtol, kRtol}, "mean");
            require_close(actual_rstd, rstd, {kRtol, kRtol}, "rstd");
            // Again, in place (y over x): the same bits as the first run.
            poison(md);
            poison(rd);
            kernels::layer_norm_forward(view(xd, xs), view(gd, ws), view(bd, ws), eps, view(xd, xs),
                                        view(md, rs), view(rd, rs), nullptr);
            require_same_bits(download(xd), actual_y);
            require_same_bits(download(md), actual_mean);
            require_same_bits(download(rd), actual_rstd);
        }
    GuardedArray<float> buffer(100);
    const Tensor x = view(buffer, {4, 5}), g = view(buffer, {5}), r = view(buffer, {4});
    CHECK_THROWS_AS(kernels::layer_norm_forward(x, view(buffer, {4}), g, 1e-5f, x, r, r, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_forward(x, g, g, 1e-5f, view(buffer, {4, 4}), r, r, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_forward(x, g, g, 1e-5f, x, view(buffer, {5}), r, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_forward(x, g, g, -1.0f, x, r, r, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_forward(view(buffer, {20}), view(buffer, {20}), view(buffer, {20}),
                                                1e-5f, view(buffer, {20}), view(buffer, {1}),
                                                view(buffer, {1}), nullptr),
                    Error);
}

TEST_CASE("layer_norm_backward kernels match the CPU backend and are deterministic",
          "[kernels][transformer][layer_norm]") {
    uint64_t seed = 1400;
    for (const LayerNormCase c : layer_norm_cases()) {
        INFO("x [" << c.rows << ", " << c.width << "]");
        const Shape xs{c.rows, c.width}, ws{c.width}, rs{c.rows};
        auto x = shifted(random_vector<float>(as_size(xs.numel()), ++seed, 2.0), 3.0f);
        auto gamma = shifted(random_vector<float>(as_size(c.width), ++seed), 1.0f);
        auto beta = random_vector<float>(as_size(c.width), ++seed);
        auto dy = random_vector<float>(as_size(xs.numel()), ++seed);
        // The saved statistics come from the CPU's forward; both backwards read the same ones.
        std::vector<float> y(x.size()), mean(as_size(c.rows)), rstd(as_size(c.rows));
        cpu().layer_norm_forward(view(x, xs), view(gamma, ws), view(beta, ws), 1e-5f, view(y, xs),
                                 view(mean, rs), view(rstd, rs));
        std::vector<float> dx(x.size()), dgamma(gamma.size()), dbeta(gamma.size());
        cpu().layer_norm_backward(view(x, xs), view(gamma, ws), view(mean, rs), view(rstd, rs),
                                  view(dy, xs), view(dx, xs), view(dgamma, ws), view(dbeta, ws));

        GuardedArray<float> xd = on_device(x), gd = on_device(gamma), md = on_device(mean),
                             rd = on_device(rstd), dyd = on_device(dy);
        GuardedArray<float> dxd = poisoned_floats(xs.numel()), dgd = poisoned_floats(c.width),
                             dbd = poisoned_floats(c.width);
        const auto run = [&](bool with_dx) {
            poison(dxd);
            poison(dgd);
            poison(dbd);
            kernels::layer_norm_backward(view(xd, xs), view(gd, ws), view(md, rs), view(rd, rs),
                                         view(dyd, xs), with_dx ? view(dxd, xs) : Tensor{},
                                         view(dgd, ws), view(dbd, ws), nullptr);
        };
        run(true);
        const auto actual_dx = download(dxd), actual_dgamma = download(dgd), actual_dbeta = download(dbd);
        require_close(actual_dx, dx, {kRtol, kRtol}, "dx");
        require_close(actual_dgamma, dgamma, {kRtol, kRtol}, "dgamma");
        require_close(actual_dbeta, dbeta, {kRtol, kRtol}, "dbeta");
        // Again without dx: the same bits for dgamma and dbeta, and dx left alone.
        run(false);
        require_same_bits(download(dgd), actual_dgamma);
        require_same_bits(download(dbd), actual_dbeta);
        CHECK(all_nan(download(dxd)));
        // dx over dy, as a caller that reuses the gradient buffer would: the same results.
        poison(dgd);
        poison(dbd);
        kernels::layer_norm_backward(view(xd, xs), view(gd, ws), view(md, rs), view(rd, rs),
                                     view(dyd, xs), view(dyd, xs), view(dgd, ws), view(dbd, ws), nullptr);
        require_same_bits(download(dyd), actual_dx);
        require_same_bits(download(dgd), actual_dgamma);
        require_same_bits(download(dbd), actual_dbeta);
    }
    GuardedArray<float> buffer(100);
    const Tensor x = view(buffer, {4, 5}), g = view(buffer, {5}), r = view(buffer, {4});
    CHECK_THROWS_AS(kernels::layer_norm_backward(x, g, r, r, view(buffer, {5, 4}), x, g, g, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_backward(x, g, r, r, x, view(buffer, {4, 4}), g, g, nullptr), Error);
    CHECK_THROWS_AS(kernels::layer_norm_backward(x, g, r, r, x, x, g, view(buffer, {4}), nullptr), Error);
}

TEST_CASE("dropout kernels draw the CPU backend's mask exactly", "[kernels][transformer][dropout]") {
    uint64_t data_seed = 1500;
    int cases = 0;
    for (const int64_t count : {1, 3, 5, 97, 1000, 96 * 500 + 3})
        for (const uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{7},
                                      (uint64_t{1} << 33) + 3})
            for (const uint64_t seed : {uint64_t{0}, uint64_t{42}, (uint64_t{1} << 63) + 5})
                for (const float p : {0.0f, 0.1f, 0.5f, 0.9f, 1.0f}) {
                    // The large counts with every offset and seed but fewer probabilities: the
                    // emulation is slow, and the mask logic is the same at every count.
                    if (count > 1000 && p != 0.1f && p != 0.5f) continue;
                    ++cases;
                    INFO("count " << count << ", offset " << offset << ", seed " << seed << ", p " << p);
                    const DropoutSpec spec{p, seed, offset};
                    const Shape s{count};
                    auto x = random_vector<float>(as_size(count), ++data_seed);
                    x[0] = kNaN;  // NaN * 0 is NaN, as in PyTorch: a dropped NaN stays NaN
                    auto dy = random_vector<float>(as_size(count), ++data_seed);
                    std::vector<float> y(x.size()), dx(x.size());
                    cpu().dropout_forward(view(x, s), view(y, s), spec);
                    cpu().dropout_backward(view(dy, s), view(dx, s), spec);

                    GuardedArray<float> xd = on_device(x), yd = poisoned_floats(count);
                    kernels::dropout_forward(view(xd, s), view(yd, s), spec, nullptr);
                    require_same_bits(download(yd), y, "y", NanMatch::kAnyNan);
                    GuardedArray<float> dyd = on_device(dy), dxd = poisoned_floats(count);
                    kernels::dropout_backward(view(dyd, s), view(dxd, s), spec, nullptr);
                    require_same_bits(download(dxd), dx, "dx", NanMatch::kAnyNan);
                    // In place: y over x, dx over dy.
                    kernels::dropout_forward(view(xd, s), view(xd, s), spec, nullptr);
                    require_same_bits(download(xd), y, "y over x", NanMatch::kAnyNan);
                    kernels::dropout_backward(view(dyd, s), view(dyd, s), spec, nullptr);
                    require_same_bits(download(dyd), dx, "dx over dy", NanMatch::kAnyNan);
                    if (p == 0.0f) require_same_bits(y, x, "p = 0 is the identity", NanMatch::kAnyNan);
                }
    CHECK(cases > 200);
    // The mask is the defining formula's, not just the CPU's: about p of a large tensor dropped,
    // exactly the elements whose Philox word is below p.
    const int64_t count = 100000;
    const DropoutSpec spec{0.25f, 7, 11};
    GuardedArray<float> ones = on_device(std::vector<float>(as_size(count), 1.0f)), out = poisoned_floats(count);
    kernels::dropout_forward(view(ones, {count}), view(out, {count}), spec, nullptr);
    const auto result = download(out);
    int64_t dropped = 0;
    for (int64_t i = 0; i < count; ++i) {
        const uint64_t c = spec.offset + uint64_t(i);
        const PhiloxBlock bits = philox4x32({uint32_t(c >> 2), uint32_t(c >> 34),
                                             uint32_t(RngStream::kDropout), 0}, spec.seed);
        const bool kept = uniform_from_bits(bits[c & 3]) >= spec.p;
        if (result[size_t(i)] != (kept ? 1.0f / 0.75f : 0.0f)) {
            INFO("element " << i << ": " << result[size_t(i)] << ", kept " << kept);
            REQUIRE(false);
        }
        dropped += kept ? 0 : 1;
    }
    CHECK(std::abs(double(dropped) / double(count) - 0.25) < 0.01);
    GuardedArray<float> buffer(10);
    CHECK_THROWS_AS(kernels::dropout_forward(view(buffer, {10}), view(buffer, {9}), DropoutSpec{0.5f, 1, 0},
                                             nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::dropout_backward(view(buffer, {10}), view(buffer, {10}),
                                              DropoutSpec{1.5f, 1, 0}, nullptr),
                    Error);
}

TEST_CASE("mse_loss kernels match the CPU backend; the loss is deterministic",
          "[kernels][transformer][mse_loss]") {
    uint64_t seed = 1600;
    for (const Shape s : {Shape{1}, Shape{3}, Shape{97}, Shape{1, 500}, Shape{32, 500},
                          Shape{97, 1000}, Shape{3, 5, 7}}) {
        INFO("pred " << s.str());
        const int64_t count = s.numel();
        auto pred = random_vector<float>(as_size(count), ++seed, 3.0);
        auto target = random_vector<float>(as_size(count), ++seed);
        std::vector<float> loss(1), dpred(pred.size());
        cpu().mse_loss_forward(view(pred, s), view(target, s), view(loss, {1}));
        cpu().mse_loss_backward(view(pred, s), view(target, s), view(dpred, s));

        GuardedArray<float> pd = on_device(pred), td = on_device(target), ld = poisoned_floats(1),
                             dpd = poisoned_floats(count);
        kernels::mse_loss_forward(view(pd, s), view(td, s), view(ld, {1}), nullptr);
        const auto actual = download(ld);
        require_close(actual, loss, {kRtol, 0.0});
        poison(ld);
        kernels::mse_loss_forward(view(pd, s), view(td, s), view(ld, {1}), nullptr);
        require_same_bits(download(ld), actual);
        kernels::mse_loss_backward(view(pd, s), view(td, s), view(dpd, s), nullptr);
        require_same_bits(download(dpd), dpred, "dpred", NanMatch::kAnyNan);
    }
    GuardedArray<float> buffer(20);
    CHECK_THROWS_AS(kernels::mse_loss_forward(view(buffer, {10}), view(buffer, {9}), view(buffer, {1}), nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::mse_loss_forward(view(buffer, {10}), view(buffer, {10}), view(buffer, {2}), nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::mse_loss_backward(view(buffer, {2, 5}), view(buffer, {2, 5}),
                                               view(buffer, {5, 2}), nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::mse_loss_forward(view(buffer, {0}), view(buffer, {0}), view(buffer, {1}), nullptr),
                    Error);
}

TEST_CASE("adam_update kernel takes the CPU backend's step bit for bit", "[kernels][transformer][adam]") {
    AdamConfig other;
    other.learning_rate = 3e-3f;
    other.beta1 = 0.8f;
    other.beta2 = 0.99f;
    other.eps = 1e-6f;
    uint64_t seed = 1700;
    for (const AdamConfig& config : {AdamConfig{}, other})
        for (const int64_t count : {1, 3, 4, 5, 1001, 300001})
            for (const int64_t offset : {0, 1}) {  // a 16-byte aligned view, and one that is not
                INFO(count << " parameters at offset " << offset << ", lr " << config.learning_rate);
                const Shape s{count};
                auto params = random_vector<float>(as_size(count), ++seed);
                std::vector<float> m(as_size(count), 0.0f), v(as_size(count), 0.0f);
                GuardedArray<float> pd(count + offset), gd(count + offset), md(count + offset),
                      vd(count + offset);
                const auto at = [&](GuardedArray<float>& a) { return Tensor{a.data() + offset, s}; };
                std::vector<float> padded(as_size(count + offset), 0.0f);
                std::copy(params.begin(), params.end(), padded.begin() + offset);
                pd.upload(padded);
                std::fill(padded.begin(), padded.end(), 0.0f);
                md.upload(padded);
                vd.upload(padded);
                // Steps 1, 2, 3 from zero moments, as training starts, then a late step.
                for (const int64_t step : {1, 2, 3, 5000}) {
                    auto grads = random_vector<float>(as_size(count), ++seed, 0.1);
                    if (count > 3) grads[3] = 0.0f;
                    cpu().adam_update(view(params, s), view(grads, s), view(m, s), view(v, s), step, config);
                    std::copy(grads.begin(), grads.end(), padded.begin() + offset);
                    gd.upload(padded);
                    kernels::adam_update(at(pd), at(gd), at(md), at(vd), step, config, nullptr);
                }
                const auto p = download(pd), m_actual = download(md), v_actual = download(vd);
                require_same_bits(std::vector<float>(p.begin() + offset, p.end()), params);
                require_same_bits(std::vector<float>(m_actual.begin() + offset, m_actual.end()), m);
                require_same_bits(std::vector<float>(v_actual.begin() + offset, v_actual.end()), v);
            }
    GuardedArray<float> buffer(10);
    CHECK_THROWS_AS(kernels::adam_update(view(buffer, {10}), view(buffer, {9}), view(buffer, {10}),
                                         view(buffer, {10}), 1, AdamConfig{}, nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::adam_update(view(buffer, {10}), view(buffer, {10}), view(buffer, {10}),
                                         view(buffer, {10}), 0, AdamConfig{}, nullptr),
                    Error);
}
