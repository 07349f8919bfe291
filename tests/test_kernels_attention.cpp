// The fused attention kernels (kernels/attention.*) against the CPU backend's attention, the
// reference. Like the other kernel tests, the file runs emulated on the CPU (twp_kernel_tests) and
// natively on a GPU (twp_kernel_tests_gpu). Outputs are poisoned with NaN on the device before
// every launch (an element the kernel forgets to write fails) and sit between guards that every
// download checks (tests/kernel_check.hpp: a write past either end fails), inputs are fresh seeded random
// values, and the cases loop over sequence lengths 1..32 (the kernel's limit), head widths from 1
// to 4096 (one tile of 64 columns, several, a partial last one), 1 to 8 heads, batches of 1 to 4,
// with and without dropout.
//
// Tolerance: |a - e| <= 1e-6 * (|e| + scale), scale = the largest |e| of the tensor. Both backends
// sum in double and round once to float; only the order of the q·k and dout·v dot products
// differs (the kernel splits them over a group of threads), which moves the double results by
// about 1e-16 relative to the sum of |terms|, so a float result is either the CPU's or one
// rounding (6e-8 relative) away; dS = P (dP - sum P dP) can cancel, so an error relative to the
// tensor's scale is allowed too. Measured over every case below under the emulation (g++, the
// same libm exp as the CPU backend): worst |a - e| / (|e| + scale) = 0, every probs, out and dqkv
// element bit for bit the CPU's, under the forward, reversed and shuffled schedules. On a GPU,
// nvcc's FMA contraction of the double sums and its exp() may move a result by one float rounding
// (about 6e-8 relative), well inside the tolerance; the main test prints the worst value it saw.
// A missing term, a wrong mask element or a wrong scale fails by orders of magnitude more, and so
// does removing any one of the kernels' __syncthreads() (checked by hand: each removal fails these
// tests under all three schedules, because a tile is read before it is complete or overwritten
// while still being read). The dropout mask is also checked directly against the Philox formula
// (engine/random.hpp), independently of the CPU, and each kernel is run twice for the same bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "kernels/attention.cuh"
#include "kernels/device_memory.hpp"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {

constexpr double kTolerance = 1e-6;

// |a - e| <= kTolerance * (|e| + scale), scale = max |e| (see the top of the file); NaN or Inf
// fails. require_close returns the worst |a - e| / that tolerance, which the main test tracks.
const Tolerance kAttentionTolerance = Tolerance(kTolerance).with_largest(kTolerance);

struct Case {
    int64_t batch, seq, heads, head_dim;
};

std::vector<Case> cases() {
    return {
        {1, 1, 1, 1},    {2, 1, 2, 125},  {2, 2, 2, 3},    {3, 3, 5, 8},     {4, 3, 5, 100},
        {2, 7, 1, 3},    {2, 7, 2, 62},   {1, 16, 8, 125}, {2, 16, 1, 127},  {2, 31, 1, 125},
        {3, 32, 2, 62},  {1, 32, 8, 8},   {1, 32, 1, 1000}, {2, 3, 1, 4096}, {2, 5, 3, 65},
    };
}

}  // namespace

TEST_CASE("attention kernels match the CPU backend, with and without dropout",
          "[kernels][transformer][attention]") {
    uint64_t data_seed = 2000;
    double worst = 0;  // the largest |a - e| / tolerance
    for (const Case c : cases())
        for (const DropoutSpec dropout : {DropoutSpec{0.0f, 0, 0}, DropoutSpec{0.1f, 42, 5},
                                          DropoutSpec{0.5f, (uint64_t{1} << 63) + 7, (uint64_t{1} << 33) + 3}}) {
            const int64_t dim = c.heads * c.head_dim;
            INFO("B " << c.batch << ", S " << c.seq << ", heads " << c.heads << ", Dh " << c.head_dim
                      << ", dropout p " << dropout.p << " seed " << dropout.seed << " offset " << dropout.offset);
            const Shape qkv_shape{c.batch, c.seq, 3 * dim}, probs_shape{c.batch, c.heads, c.seq, c.seq},
                out_shape{c.batch, c.seq, dim};
            // Spread 2: scores of standard deviation about 1.3, so the softmax is far from uniform.
            auto qkv = random_vector<float>(as_size(qkv_shape.numel()), ++data_seed, 2.0);
            auto dout = random_vector<float>(as_size(out_shape.numel()), ++data_seed);
            std::vector<float> probs(as_size(probs_shape.numel())), out(as_size(out_shape.numel())),
                dqkv(qkv.size());
            cpu().attention_forward(view(qkv, qkv_shape), int(c.heads), dropout, view(probs, probs_shape),
                                    view(out, out_shape));
            cpu().attention_backward(view(qkv, qkv_shape), int(c.heads), dropout, view(probs, probs_shape),
                                     view(dout, out_shape), view(dqkv, qkv_shape));

            GuardedArray<float> qkv_d = on_device(qkv), dout_d = on_device(dout);
            GuardedArray<float> probs_d = poisoned_floats(probs_shape.numel()),
                                 out_d = poisoned_floats(out_shape.numel()),
                                 dqkv_d = poisoned_floats(qkv_shape.numel());
            kernels::attention_forward(view(qkv_d, qkv_shape), int(c.heads), dropout,
                                       view(probs_d, probs_shape), view(out_d, out_shape), nullptr);
            const auto actual_probs = download(probs_d), actual_out = download(out_d);
            worst = std::max(worst,
                             require_close(actual_probs, probs, kAttentionTolerance, "probs").worst_ratio);
            worst = std::max(worst,
                             require_close(actual_out, out, kAttentionTolerance, "out").worst_ratio);
            // The backward reads the CPU's probs, so that it is compared on the same input.
            GuardedArray<float> cpu_probs_d = on_device(probs);
            kernels::attention_backward(view(qkv_d, qkv_shape), int(c.heads), dropout,
                                        view(cpu_probs_d, probs_shape), view(dout_d, out_shape),
                                        view(dqkv_d, qkv_shape), nullptr);
            const auto actual_dqkv = download(dqkv_d);
            worst = std::max(worst,
                             require_close(actual_dqkv, dqkv, kAttentionTolerance, "dqkv").worst_ratio);
            // Again: the same bits (fixed reduction orders, no atomics).
            poison(probs_d);
            poison(out_d);
            kernels::attention_forward(view(qkv_d, qkv_shape), int(c.heads), dropout,
                                       view(probs_d, probs_shape), view(out_d, out_shape), nullptr);
            require_same_bits(download(probs_d), actual_probs);
            require_same_bits(download(out_d), actual_out);
            poison(dqkv_d);
            kernels::attention_backward(view(qkv_d, qkv_shape), int(c.heads), dropout,
                                        view(cpu_probs_d, probs_shape), view(dout_d, out_shape),
                                        view(dqkv_d, qkv_shape), nullptr);
            require_same_bits(download(dqkv_d), actual_dqkv);
        }
    WARN("attention kernels vs the CPU backend: worst |a - e| / (|e| + scale) = " << worst * kTolerance
         << " (tolerance " << kTolerance << ")");
}

// With q = k = 0 every probability is 1/S, and with v_j the unit vector e_j (Dh >= S) the output
// is out_i[j] = m_ij / S: the mask itself, compared with the Philox formula directly.
TEST_CASE("attention kernels draw the dropout mask of the Philox formula", "[kernels][transformer][attention]") {
    const int64_t batch = 2, seq = 7, heads = 3, head_dim = 8, dim = heads * head_dim;
    const DropoutSpec dropout{0.3f, 99, 11};
    std::vector<float> qkv(as_size(batch * seq * 3 * dim), 0.0f);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t j = 0; j < seq; ++j) qkv[as_size((b * seq + j) * 3 * dim + 2 * dim + h * head_dim + j)] = 1.0f;
    const Shape qkv_shape{batch, seq, 3 * dim}, probs_shape{batch, heads, seq, seq}, out_shape{batch, seq, dim};
    GuardedArray<float> qkv_d = on_device(qkv), probs_d = poisoned_floats(probs_shape.numel()),
                         out_d = poisoned_floats(out_shape.numel());
    kernels::attention_forward(view(qkv_d, qkv_shape), int(heads), dropout, view(probs_d, probs_shape),
                               view(out_d, out_shape), nullptr);
    const auto probs = download(probs_d), out = download(out_d);
    int64_t dropped = 0;
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t i = 0; i < seq; ++i)
                for (int64_t j = 0; j < seq; ++j) {
                    const int64_t index = ((b * heads + h) * seq + i) * seq + j;
                    const bool kept = dropout_keep(dropout.seed, dropout.offset + uint64_t(index), dropout.p);
                    const float expected = float(1.0 / double(seq) * (kept ? 1.0 / (1.0 - double(dropout.p)) : 0.0));
                    INFO("b " << b << ", h " << h << ", i " << i << ", j " << j << ", kept " << kept);
                    REQUIRE(probs[as_size(index)] == float(1.0 / double(seq)));
                    REQUIRE(out[as_size((b * seq + i) * dim + h * head_dim + j)] == expected);
                    // The columns past the unit vectors are 0 either way.
                    if (j == 0)
                        for (int64_t e = seq; e < head_dim; ++e)
                            REQUIRE(out[as_size((b * seq + i) * dim + h * head_dim + e)] == 0.0f);
                    dropped += kept ? 0 : 1;
                }
    // About p of the 294 elements dropped (a mask of all kept or all dropped is not dropout).
    CHECK(dropped > 294 / 10);
    CHECK(dropped < 294 / 2);
    // p = 1 drops everything: out is 0, probs are still the softmax.
    poison(out_d);
    kernels::attention_forward(view(qkv_d, qkv_shape), int(heads), DropoutSpec{1.0f, 99, 11},
                               view(probs_d, probs_shape), view(out_d, out_shape), nullptr);
    for (const float value : download(out_d)) REQUIRE(value == 0.0f);
}

TEST_CASE("attention launchers refuse bad shapes", "[kernels][transformer][attention]") {
    GuardedArray<float> a(4 * 33 * 33 * 3), b(4 * 33 * 33 * 3), c(4 * 33 * 33 * 3);
    const Tensor qkv = view(a, {2, 3, 12}), probs = view(b, {2, 2, 3, 3}), out = view(c, {2, 3, 4});
    // heads do not divide D = 4; probs shaped for other heads; out too narrow
    CHECK_THROWS_AS(kernels::attention_forward(qkv, 3, DropoutSpec{}, view(b, {2, 3, 3, 3}), out, nullptr), Error);
    CHECK_THROWS_AS(kernels::attention_forward(qkv, 2, DropoutSpec{}, view(b, {2, 1, 3, 3}), out, nullptr), Error);
    CHECK_THROWS_AS(kernels::attention_forward(qkv, 2, DropoutSpec{}, probs, view(c, {2, 3, 3}), nullptr), Error);
    CHECK_THROWS_AS(kernels::attention_forward(qkv, 2, DropoutSpec{1.5f, 0, 0}, probs, out, nullptr), Error);
    // S = 33 is past the kernel's limit
    CHECK_THROWS_WITH(kernels::attention_forward(view(a, {1, 33, 3}), 1, DropoutSpec{}, view(b, {1, 1, 33, 33}),
                                                 view(c, {1, 33, 1}), nullptr),
                      Catch::Contains("exceeds the kernel's limit of 32"));
    // dqkv shaped differently from qkv, or overlapping it
    CHECK_THROWS_AS(kernels::attention_backward(qkv, 2, DropoutSpec{}, probs, out, view(c, {2, 3, 9}), nullptr),
                    Error);
    CHECK_THROWS_WITH(kernels::attention_backward(qkv, 2, DropoutSpec{}, probs, out, Tensor{a.data() + 5, {2, 3, 12}},
                                                  nullptr),
                      Catch::Contains("overlaps"));
    // An empty batch launches nothing and is not an error.
    kernels::attention_forward(view(a, {0, 3, 12}), 2, DropoutSpec{}, view(b, {0, 2, 3, 3}), view(c, {0, 3, 4}), nullptr);
    kernels::synchronize(nullptr);
}
