// The CUDA kernels of the diffusion forecaster's ops (kernels/normal_fill, timestep_embedding,
// row_combine), each against the CPU backend, the reference. Like tests/test_kernels_transformer.cpp,
// the same file runs emulated on the CPU (twp_kernel_tests) and natively on a GPU
// (twp_kernel_tests_gpu); outputs are poisoned with NaN on the device before every launch, so an
// element a kernel forgets to write fails, and every array sits between guards that each download
// checks (tests/kernel_check.hpp), so a write past either end fails. Shapes break divisibility:
// rows 1, 7, 300 (and 4100, past the coefficient-gradient kernel's 4096 blocks), widths 1, 60, 257,
// 1000, against the 256-thread blocks and the 256-wide column stride.
//
// Exact (bit for bit, both builds): row_combine forward (out over x and over y too) and its dx, dy:
// one float product or product-and-sum, each rounded on its own on both sides (__fmul_rn /
// __fadd_rn in the kernel, -ffp-contract=off in engine/cpu/row_combine.cpp).
//
// Within a tolerance (the reasons at each comparison):
// - row_combine's da, dc: the same double sum in another order (a 256-way strided split and a
//   tree), rounded to float once: at most one float ulp apart (rtol 2.4e-7 = 2 ulps) plus the
//   double sums' own difference, ~width * 2^-53 of sum |dout x| (atol 1e-12 of the largest);
// - normal_fill and timestep_embedding: the GPU's logf/expf/sinf/cosf are within 1-2 ulps of their
//   results, not glibc's correctly rounded ones; under the emulation the same glibc runs on both
//   sides, so normal_fill and the forward embedding are required bit for bit there.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "kernels/device_memory.hpp"
#include "kernels/normal_fill.cuh"
#include "kernels/row_combine.cuh"
#include "kernels/timestep_embedding.cuh"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {

struct RowsWidth { int64_t rows, width; };

std::vector<RowsWidth> row_combine_cases() {
    std::vector<RowsWidth> cases;
    for (const int64_t rows : {1, 7, 300})
        for (const int64_t width : {1, 60, 257, 1000}) cases.push_back({rows, width});
    cases.push_back({2048, 60});  // the diffusion forecaster's: batch 2048, 60 PCA coefficients
    cases.push_back({4100, 3});   // more rows than the coefficient kernel's 4096 blocks
    return cases;
}

// Timesteps: integers 0..1000 as DDPM's, with t = 0 and t = 1000 always present, and a fraction.
std::vector<float> timesteps(int64_t rows, uint64_t seed) {
    auto t = random_vector<float>(as_size(rows), seed);
    for (float& v : t) v = std::round(500.0f * (v + 1.0f));
    t[0] = 1000.0f;
    if (rows > 1) t[1] = 0.0f;
    if (rows > 2) t[2] = 0.5f;
    return t;
}

// f_i = 10000^(-i/h), in double (for the tolerances' scales).
double frequency(int64_t i, int64_t half) { return std::pow(10000.0, -double(i) / double(half)); }

}  // namespace

// ---------------------------------------------------------------- normal_fill
TEST_CASE("normal_fill kernel matches the CPU backend, whatever the split", "[kernels][diffusion][normal_fill]") {
    // (Sizes kept small enough for the emulation under ThreadSanitizer: every GPU thread is a fiber there.)
    for (const int64_t count : {1, 7, 60, 257, 1000, 2048 * 60, 262145})
        for (const uint64_t offset : {uint64_t(0), uint64_t(12345), uint64_t(1) << 32}) {
            INFO("count " << count << ", offset " << offset);
            const uint64_t seed = 77;
            std::vector<float> expected(as_size(count));
            cpu().normal_fill(view(expected, {count}), seed, offset);
            GuardedArray<float> x = poisoned_floats(count);
            kernels::normal_fill(view(x, {count}), seed, offset, nullptr);
            const auto actual = download(x);
            if (kernels::native_gpu_build()) {
                // The same float formula; the GPU's logf (1 ulp), cosf (2 ulps) and sqrtf differ from
                // glibc's by a few ulps of their results, so x by ~5 ulps (6e-7 relative): rtol 2e-6,
                // and atol 1e-7 for draws next to 0 (cos near its zeros, u1 near 1).
                require_close(actual, expected, {2e-6, 1e-7}, "x");
            } else {
                require_same_bits(actual, expected, "x (the same libm under the emulation)");
            }
            // In two pieces of odd sizes, each with its own offset: the same bits as one launch.
            const int64_t first = count / 3;
            GuardedArray<float> pieces = poisoned_floats(count);
            kernels::normal_fill(Tensor{pieces.data(), {first}}, seed, offset, nullptr);
            kernels::normal_fill(Tensor{pieces.data() + first, {count - first}}, seed, offset + uint64_t(first),
                                 nullptr);
            require_same_bits(download(pieces), actual, "two pieces");
            for (const float v : actual) REQUIRE(std::abs(v) <= 5.7682f);  // finite: u1 >= 2^-24
        }
    // An empty tensor launches nothing.
    GuardedArray<float> empty(0);
    kernels::normal_fill(view(empty, {0, 60}), 1, 0, nullptr);
    REQUIRE(download(empty).empty());
}

// ---------------------------------------------------------------- timestep_embedding
TEST_CASE("timestep_embedding kernels match the CPU backend up to t = 1000",
          "[kernels][diffusion][timestep_embedding]") {
    uint64_t seed = 2000;
    for (const int64_t rows : {1, 7, 300, 2048})
        for (const int64_t width : {2, 60, 64, 258, 1000}) {  // halves 1, 30, 32, 129, 500
            if (rows == 2048 && width != 64) continue;  // the forecaster's shape; the others at 300 rows
            INFO("emb [" << rows << ", " << width << "]");
            const int64_t half = width / 2;
            const Shape ts{rows}, es{rows, width};
            auto t = timesteps(rows, ++seed);
            auto demb = random_vector<float>(as_size(rows * width), ++seed);
            std::vector<float> emb(as_size(rows * width)), dt(as_size(rows));
            cpu().timestep_embedding_forward(view(t, ts), view(emb, es));
            // The per-element angle t f_i, and per row sum_i (|demb_i| + |demb_{h+i}|) f_i (1 + t f_i).
            std::vector<float> angle(emb.size()), dt_scale(as_size(rows));
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t i = 0; i < half; ++i) {
                    const double f = frequency(i, half), a = std::abs(double(t[as_size(r)])) * f;
                    angle[as_size(r * width + i)] = angle[as_size(r * width + half + i)] = float(a);
                    dt_scale[as_size(r)] += float((std::abs(demb[as_size(r * width + i)]) +
                                                   std::abs(demb[as_size(r * width + half + i)])) * f * (1 + a));
                }

            GuardedArray<float> td = on_device(t), dembd = on_device(demb), embd = poisoned_floats(rows * width),
                                dtd = poisoned_floats(rows);
            kernels::timestep_embedding_forward(view(td, ts), view(embd, es), nullptr);
            const auto actual_emb = download(embd);
            if (kernels::native_gpu_build()) {
                // f_i = expf(-logf(10000) i / h) differs by up to ~3 ulps (expf's 2, logf's 1), so
                // the angle by ~3 ulps of itself (up to 1000 at f_0 = 1, ~750 at f_1: ~3e-4
                // absolute), and sinf/cosf by 2 ulps of their result: 1e-6 of (|value| + |angle|),
                // plus 1e-7 near the zeros of sin and cos.
                require_close(actual_emb, emb, Tolerance{1e-6, 1e-7}.with_scale(angle), "emb");
            } else {
                require_same_bits(actual_emb, emb, "emb (the same libm under the emulation)");
            }

            cpu().timestep_embedding_backward(view(t, ts), view(demb, es), view(dt, ts));
            kernels::timestep_embedding_backward(view(td, ts), view(dembd, es), view(dtd, ts), nullptr);
            const auto actual_dt = download(dtd);
            // The same double sum in the same order, of terms demb f cos(angle), demb f sin(angle)
            // whose f and float angle may differ on a GPU as above: 1e-6 of sum |demb| f (1 + t f).
            // Under the emulation only the CPU's FMA contraction (-march=native) differs: one
            // float ulp at most.
            require_close(actual_dt, dt, Tolerance{1e-6, 1e-7}.with_scale(dt_scale), "dt");
            // A second run gives the same bits (one thread per row, a fixed order).
            poison(dtd);
            kernels::timestep_embedding_backward(view(td, ts), view(dembd, es), view(dtd, ts), nullptr);
            require_same_bits(download(dtd), actual_dt, "dt again");
        }
    GuardedArray<float> buffer(64);
    CHECK_THROWS_AS(kernels::timestep_embedding_forward(view(buffer, {4}), view(buffer, {4, 5}), nullptr), Error);
    CHECK_THROWS_AS(kernels::timestep_embedding_forward(view(buffer, {3}), view(buffer, {4, 6}), nullptr), Error);
    CHECK_THROWS_AS(kernels::timestep_embedding_forward(view(buffer, {4}), view(buffer, {4, 0}), nullptr), Error);
    CHECK_THROWS_AS(kernels::timestep_embedding_backward(view(buffer, {4}), view(buffer, {4, 6}), view(buffer, {3}),
                                                         nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::timestep_embedding_backward(view(buffer, {4}), view(buffer, {4, 7}), view(buffer, {4}),
                                                         nullptr),
                    Error);
}

// ---------------------------------------------------------------- row_combine
TEST_CASE("row_combine_forward kernel matches the CPU backend bit for bit, out over x or y",
          "[kernels][diffusion][row_combine]") {
    uint64_t seed = 2100;
    std::vector<RowsWidth> cases = row_combine_cases();
    for (const RowsWidth c : cases) {
        INFO("x [" << c.rows << ", " << c.width << "]");
        const Shape rs{c.rows}, xs{c.rows, c.width};
        auto a = random_vector<float>(as_size(c.rows), ++seed), cc = random_vector<float>(as_size(c.rows), ++seed);
        auto x = random_vector<float>(as_size(xs.numel()), ++seed, 3.0);
        auto y = random_vector<float>(as_size(xs.numel()), ++seed, 3.0);
        std::vector<float> out(x.size());
        cpu().row_combine_forward(view(a, rs), view(x, xs), view(cc, rs), view(y, xs), view(out, xs));
        GuardedArray<float> ad = on_device(a), cd = on_device(cc), xd = on_device(x), yd = on_device(y),
                            outd = poisoned_floats(xs.numel());
        kernels::row_combine_forward(view(ad, rs), view(xd, xs), view(cd, rs), view(yd, xs), view(outd, xs), nullptr);
        require_same_bits(download(outd), out, "out", NanMatch::kAnyNan);
        kernels::row_combine_forward(view(ad, rs), view(xd, xs), view(cd, rs), view(yd, xs), view(xd, xs), nullptr);
        require_same_bits(download(xd), out, "out over x", NanMatch::kAnyNan);
        xd.upload(x);
        kernels::row_combine_forward(view(ad, rs), view(xd, xs), view(cd, rs), view(yd, xs), view(yd, xs), nullptr);
        require_same_bits(download(yd), out, "out over y", NanMatch::kAnyNan);
    }
    // x [B, S, D] and [B]: the row is everything after the first dimension.
    for (const Shape xs : {Shape{7, 3, 20}, Shape{257}}) {
        INFO("x " << xs.str());
        const Shape rs{xs[0]};
        auto a = random_vector<float>(as_size(xs[0]), ++seed), cc = random_vector<float>(as_size(xs[0]), ++seed);
        auto x = random_vector<float>(as_size(xs.numel()), ++seed), y = random_vector<float>(as_size(xs.numel()), ++seed);
        std::vector<float> out(x.size());
        cpu().row_combine_forward(view(a, rs), view(x, xs), view(cc, rs), view(y, xs), view(out, xs));
        GuardedArray<float> ad = on_device(a), cd = on_device(cc), xd = on_device(x), yd = on_device(y),
                            outd = poisoned_floats(xs.numel());
        kernels::row_combine_forward(view(ad, rs), view(xd, xs), view(cd, rs), view(yd, xs), view(outd, xs), nullptr);
        require_same_bits(download(outd), out, "out", NanMatch::kAnyNan);
    }
    GuardedArray<float> buffer(100);
    const Tensor x = view(buffer, {4, 5}), a = view(buffer, {4});
    CHECK_THROWS_AS(kernels::row_combine_forward(view(buffer, {5}), x, a, x, x, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_forward(a, x, view(buffer, {3}), x, x, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_forward(a, x, a, view(buffer, {4, 6}), x, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_forward(a, x, a, x, view(buffer, {20}), nullptr), Error);
}

TEST_CASE("row_combine_backward kernels match the CPU backend, every subset of the gradients",
          "[kernels][diffusion][row_combine]") {
    uint64_t seed = 2200;
    std::vector<RowsWidth> cases = row_combine_cases();
    cases.push_back({5, 0});  // empty rows: da = dc = 0
    for (const RowsWidth c : cases) {
        INFO("x [" << c.rows << ", " << c.width << "]");
        const Shape rs{c.rows}, xs{c.rows, c.width};
        const int64_t count = xs.numel();
        auto a = random_vector<float>(as_size(c.rows), ++seed), cc = random_vector<float>(as_size(c.rows), ++seed);
        auto x = random_vector<float>(as_size(count), ++seed, 3.0), y = random_vector<float>(as_size(count), ++seed, 3.0);
        auto dout = random_vector<float>(as_size(count), ++seed);
        std::vector<float> dx(x.size()), dy(x.size()), da(as_size(c.rows)), dc(as_size(c.rows));
        cpu().row_combine_backward(view(a, rs), view(x, xs), view(cc, rs), view(y, xs), view(dout, xs), view(dx, xs),
                                   view(dy, xs), view(da, rs), view(dc, rs));
        // The scale of da[r] and dc[r]: sum |dout x|, sum |dout y| (for the tolerance's atol).
        double largest_sum = 0;
        for (int64_t r = 0; r < c.rows; ++r) {
            double sx = 0, sy = 0;
            for (int64_t j = 0; j < c.width; ++j) {
                sx += std::abs(double(dout[as_size(r * c.width + j)]) * x[as_size(r * c.width + j)]);
                sy += std::abs(double(dout[as_size(r * c.width + j)]) * y[as_size(r * c.width + j)]);
            }
            largest_sum = std::max({largest_sum, sx, sy});
        }
        const Tolerance sums{2.4e-7, 1e-12 * largest_sum};

        GuardedArray<float> ad = on_device(a), cd = on_device(cc), xd = on_device(x), yd = on_device(y),
                            doutd = on_device(dout);
        // mask bit 0: dx, 1: dy, 2: da, 3: dc; 15 first (all), then each alone and in pairs; 0: none.
        // The larger shapes run fewer subsets: every row is a block of 256 fibers with a barrier
        // tree under the emulation, minutes under ThreadSanitizer over all subsets (tools/tsan.sh).
        std::vector<std::vector<float>> first_sums;
        const std::vector<int> masks = c.rows > 2048   ? std::vector<int>{4}
                                       : c.rows > 300  ? std::vector<int>{15, 0}
                                       : c.rows == 300 ? std::vector<int>{15, 3, 4, 8, 0}
                                                       : std::vector<int>{15, 1, 2, 4, 8, 5, 10, 3, 12, 0, 15};
        for (const int mask : masks) {
            INFO("gradients mask " << mask);
            GuardedArray<float> dxd = poisoned_floats(count), dyd = poisoned_floats(count),
                                dad = poisoned_floats(c.rows), dcd = poisoned_floats(c.rows);
            kernels::row_combine_backward(view(ad, rs), view(xd, xs), view(cd, rs), view(yd, xs), view(doutd, xs),
                                          mask & 1 ? view(dxd, xs) : Tensor{}, mask & 2 ? view(dyd, xs) : Tensor{},
                                          mask & 4 ? view(dad, rs) : Tensor{}, mask & 8 ? view(dcd, rs) : Tensor{},
                                          nullptr);
            const auto still_poisoned = [](const std::vector<float>& v) {
                return std::all_of(v.begin(), v.end(), [](float e) { return std::isnan(e); });
            };
            const auto got_dx = download(dxd), got_dy = download(dyd), got_da = download(dad), got_dc = download(dcd);
            if (mask & 1) require_same_bits(got_dx, dx, "dx", NanMatch::kAnyNan); else REQUIRE(still_poisoned(got_dx));
            if (mask & 2) require_same_bits(got_dy, dy, "dy", NanMatch::kAnyNan); else REQUIRE(still_poisoned(got_dy));
            if (mask & 4) require_close(got_da, da, sums, "da"); else REQUIRE(still_poisoned(got_da));
            if (mask & 8) require_close(got_dc, dc, sums, "dc"); else REQUIRE(still_poisoned(got_dc));
            // The sums in a fixed order, no atomics: the same bits whichever other gradients run.
            if (mask == 15) {
                if (first_sums.empty()) first_sums = {got_da, got_dc};
                else {
                    require_same_bits(got_da, first_sums[0], "da again");
                    require_same_bits(got_dc, first_sums[1], "dc again");
                }
            }
            if (mask == 4 && !first_sums.empty()) require_same_bits(got_da, first_sums[0], "da alone");
            if (mask == 8 && !first_sums.empty()) require_same_bits(got_dc, first_sums[1], "dc alone");
        }
    }
    GuardedArray<float> buffer(100);
    const Tensor x = view(buffer, {4, 5}), a = view(buffer, {4});
    CHECK_THROWS_AS(kernels::row_combine_backward(a, x, a, x, view(buffer, {4, 4}), x, x, a, a, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_backward(a, x, a, x, x, view(buffer, {4, 6}), x, a, a, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_backward(a, x, a, x, x, x, view(buffer, {20}), a, a, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_backward(a, x, a, x, x, x, x, view(buffer, {5}), a, nullptr), Error);
    CHECK_THROWS_AS(kernels::row_combine_backward(a, x, a, x, x, Tensor{}, Tensor{}, Tensor{}, view(buffer, {4, 1}),
                                                  nullptr),
                    Error);
}
