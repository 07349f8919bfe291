// The kernel tests' own helpers can fail (tests/check.hpp, tests/kernel_check.hpp): the guards
// around a device array see a kernel that writes past either end of it (kernels::fill given a
// view one element longer than its array, or starting one element before it; kernels::relu_forward
// copying one element too many from its input's guard), a download from such an array fails the
// test, and the comparisons refuse what they must. Like the kernel tests, the
// file runs emulated (twp_kernel_tests) and natively (twp_kernel_tests_gpu). The [!shouldfail]
// cases pass only when their one check fails.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/device_memory.hpp"
#include "kernels/fill.cuh"
#include "kernels/relu.cuh"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"

using namespace twp;
using namespace twp::test;
using Catch::Matchers::Contains;

TEST_CASE("guards around a device array see a kernel that writes past either end", "[kernel_check]") {
    for (const int64_t count : {1, 10, 257}) {
        CAPTURE(count);
        GuardedArray<float> array = poisoned_floats(count);
        kernels::fill(view(array, {count}), 1.0f, nullptr);  // the array's own size: guards intact
        kernels::synchronize(nullptr);
        REQUIRE(array.guard_damage().empty());
        REQUIRE(download(array) == std::vector<float>(as_size(count), 1.0f));

        kernels::fill(Tensor{array.data(), {count + 1}}, 2.0f, nullptr);  // one element too many
        kernels::synchronize(nullptr);
        CHECK_THAT(array.guard_damage(), Contains("written 1 element(s) past the end") &&
                                             !Contains("before the start"));

        GuardedArray<float> early = poisoned_floats(count);
        kernels::fill(Tensor{early.data() - 1, {count}}, 3.0f, nullptr);  // starts one too early
        kernels::synchronize(nullptr);
        CHECK_THAT(early.guard_damage(), Contains("written 1 element(s) before the start") &&
                                             !Contains("past the end"));
    }
    // An elementwise kernel given views one element too long copies its input's guard element
    // into its output's guard: every array has a pattern of its own, so that is seen too.
    GuardedArray<float> input = on_device(std::vector<float>(4, 1.0f)), output = poisoned_floats(4);
    kernels::relu_forward(Tensor{input.data(), {5}}, Tensor{output.data(), {5}}, nullptr);
    kernels::synchronize(nullptr);
    CHECK_THAT(output.guard_damage(), Contains("written 1 element(s) past the end"));
    CHECK(input.guard_damage().empty());
    // Further away, and for the other element types: int32 (indices) and double (PCA).
    GuardedArray<int32_t> indices = poisoned_indices(5);
    const int32_t value = -1;
    kernels::copy_to_device(indices.data() + 5 + 10, &value, sizeof value);
    CHECK_THAT(indices.guard_damage(), Contains("written 11 element(s) past the end"));
    GuardedArray<double> doubles(std::vector<double>(3, 0.5));
    const double nan = std::numeric_limits<double>::quiet_NaN();  // a NaN, but not the guard's
    kernels::copy_to_device(doubles.data() - 32, &nan, sizeof nan);
    CHECK_THAT(doubles.guard_damage(), Contains("written 32 element(s) before the start"));
    // The last element of each guard still counts.
    GuardedArray<float> edges(4);
    const float zero = 0.0f;
    kernels::copy_to_device(edges.data() - GuardedArray<float>::kGuard, &zero, sizeof zero);
    CHECK_THAT(edges.guard_damage(), Contains("written 64 element(s) before the start"));
}

TEST_CASE("a download from an array whose guard a kernel overwrote fails the test",
          "[kernel_check][!shouldfail]") {
    GuardedArray<float> array = poisoned_floats(8);
    kernels::fill(Tensor{array.data(), {9}}, 1.0f, nullptr);
    (void)download(array);  // must fail: the guard after the array holds 1.0f
}

TEST_CASE("compare() refuses what require_close must refuse", "[kernel_check]") {
    const std::vector<double> one{1.0};
    CHECK(compare(std::vector<double>{1.0 + 0.5e-5}, one, {1e-5}).ok);
    CHECK_FALSE(compare(std::vector<double>{1.0 + 2e-5}, one, {1e-5}).ok);
    CHECK(compare(std::vector<double>{1.5}, one, {0, 1.0}).worst_ratio == 0.5);
    CHECK_FALSE(compare(std::vector<double>{1.5}, one, {0, 0.25}).ok);
    // Exact: {0, 0} allows no difference at all.
    CHECK(compare(one, one, {}).ok);
    CHECK_FALSE(compare(std::vector<double>{std::nextafter(1.0, 2.0)}, one, {}).ok);
    // NaN or Inf on either side, and different sizes, always fail.
    CHECK_FALSE(compare(std::vector<float>{kNaN}, one, {0, 1e30}).ok);
    CHECK_FALSE(compare(one, std::vector<float>{std::numeric_limits<float>::infinity()}, {0, 1e30}).ok);
    CHECK_FALSE(compare(std::vector<double>{1.0, 1.0}, one, {0, 1.0}).ok);
    // A per-element scale widens that element's tolerance by rtol * scale[i].
    const std::vector<double> small{1e-5};
    CHECK_FALSE(compare(std::vector<double>{0.0}, small, {1e-6}).ok);
    CHECK(compare(std::vector<double>{0.0}, small, Tolerance(1e-6).with_scale({20.0f})).ok);
    CHECK_FALSE(compare(std::vector<double>{0.0}, small, Tolerance(1e-6).with_scale({1.0f, 2.0f})).ok);
    // largest: an error relative to the tensor's largest magnitude.
    const std::vector<double> spread{1e-3, 100.0};
    CHECK(compare(std::vector<double>{0.0, 100.0}, spread, Tolerance().with_largest(2e-5)).ok);
    CHECK_FALSE(compare(std::vector<double>{0.0, 100.0}, spread, Tolerance().with_largest(1e-6)).ok);
    require_close(std::vector<double>{0.0, 100.0}, spread, Tolerance().with_largest(2e-5), "largest");
}

TEST_CASE("require_same_bits tells NaN payloads apart only when asked", "[kernel_check]") {
    const uint32_t quiet = 0x7fc00000u, payload = 0x7fc00001u;
    float a, b;
    std::memcpy(&a, &quiet, sizeof a);
    std::memcpy(&b, &payload, sizeof b);
    require_same_bits(std::vector<float>{1.0f, a}, std::vector<float>{1.0f, b}, "any NaN", NanMatch::kAnyNan);
    require_same_bits(std::vector<int32_t>{3, -7}, std::vector<int32_t>{3, -7}, "indices");
}

TEST_CASE("require_same_bits fails on NaNs of different payloads", "[kernel_check][!shouldfail]") {
    const uint32_t quiet = 0x7fc00000u, payload = 0x7fc00001u;
    float a, b;
    std::memcpy(&a, &quiet, sizeof a);
    std::memcpy(&b, &payload, sizeof b);
    require_same_bits(std::vector<float>{a}, std::vector<float>{b});
}

TEST_CASE("require_same_bits fails on -0 against +0", "[kernel_check][!shouldfail]") {
    require_same_bits(std::vector<float>{0.0f}, std::vector<float>{-0.0f}, "signed zero", NanMatch::kAnyNan);
}
