// kernels/device_memory: allocation, copies, the NaN fill through a launched kernel, and
// DeviceArray, identically on a GPU (twp_kernel_tests_gpu) and under the CUDA emulation
// (twp_kernel_tests). Plain C++: it calls the device memory functions only.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/device_memory.hpp"

using namespace twp::kernels;
using Catch::Matchers::Contains;

TEST_CASE("device memory: the build kind and device count agree", "[device_memory]") {
#if defined(TWP_CUDA_EMULATION) && TWP_CUDA_EMULATION
    REQUIRE_FALSE(native_gpu_build());
    REQUIRE(device_count() == 0);
#else
    REQUIRE(native_gpu_build());
    REQUIRE(device_count() > 0);  // the GPU executable skips itself (exit 77) without a device
#endif
}

TEST_CASE("device memory: allocations are 256-byte aligned, 0 bytes is nullptr", "[device_memory]") {
    REQUIRE(device_alloc(0) == nullptr);
    device_free(nullptr);  // a no-op, like cudaFree(nullptr)
    for (const std::size_t bytes : {1, 3, 256, 1000, 1 << 20}) {
        void* pointer = device_alloc(bytes);
        CAPTURE(bytes);
        REQUIRE(pointer != nullptr);
        REQUIRE(reinterpret_cast<std::uintptr_t>(pointer) % 256 == 0);
        device_free(pointer);
    }
}

TEST_CASE("device memory: round trips host -> device -> device -> host", "[device_memory]") {
    for (const std::int64_t count : {0, 1, 1000, 100003}) {
        CAPTURE(count);
        std::vector<std::int32_t> host(static_cast<std::size_t>(count));
        std::iota(host.begin(), host.end(), -17);
        DeviceArray<std::int32_t> a(host), b(count);
        REQUIRE(a.count() == count);
        REQUIRE(a.bytes() == sizeof(std::int32_t) * static_cast<std::size_t>(count));
        copy_device_to_device(b.data(), a.data(), a.bytes());
        synchronize();
        REQUIRE(b.download() == host);
    }
}

TEST_CASE("device memory: device_fill writes exactly the range it is given", "[device_memory]") {
    // Sizes around the fill kernel's block (256) and beyond its 64-block grid (grid-stride loop).
    for (const std::int64_t count : {1, 255, 256, 257, 64 * 256 + 1, 100000}) {
        CAPTURE(count);
        const std::vector<float> sentinel(static_cast<std::size_t>(count) + 2, 7.0f);
        DeviceArray<float> array(sentinel);
        device_fill(array.data() + 1, NAN, count);
        const std::vector<float> got = array.download();
        REQUIRE(got.front() == 7.0f);
        REQUIRE(got.back() == 7.0f);
        for (std::int64_t i = 1; i <= count; ++i) {
            if (!std::isnan(got[static_cast<std::size_t>(i)])) FAIL("element " << i << " not filled: " << got[i]);
        }
        device_fill(array.data(), -2.5f, count + 2);
        REQUIRE(array.download() == std::vector<float>(sentinel.size(), -2.5f));
    }
    device_fill(nullptr, 0.0f, 0);  // nothing to do
    REQUIRE_THROWS_WITH(device_fill(nullptr, 0.0f, 4), Contains("into nullptr"));
    REQUIRE_THROWS_WITH(device_fill(nullptr, 0.0f, -1), Contains("negative count"));
}

TEST_CASE("device memory: DeviceArray moves, never copies, and checks upload sizes", "[device_memory]") {
    DeviceArray<float> a(std::vector<float>{1, 2, 3});
    const float* data = a.data();
    DeviceArray<float> b(std::move(a));
    REQUIRE(b.data() == data);
    REQUIRE(b.count() == 3);
    REQUIRE(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
    REQUIRE(a.count() == 0);
    a = std::move(b);
    REQUIRE(a.download() == std::vector<float>{1, 2, 3});
    REQUIRE_THROWS_WITH(a.upload(std::vector<float>{1, 2}), Contains("upload of 2 elements into a DeviceArray of 3"));
    REQUIRE_THROWS_WITH(DeviceArray<float>(-1), Contains("negative size"));
}
