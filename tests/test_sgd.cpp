// The SGD update against steps worked out by hand with PyTorch's formulas
//   d = g + wd * p;  buf = momentum * buf + d (buf = d on the first step);  p -= lr * buf
// for lr 0.1, momentum 0.9, weight decay 0.01. torch.optim.SGD gives the same numbers (checked
// with Debian's python3-torch when this test was written).
#include <catch2/catch.hpp>

#include "engine/buffer.hpp"
#include "engine/cpu_backend.hpp"
#include "tests/check.hpp"

using namespace twp;
using test::require_close;

TEST_CASE("SGD with momentum and weight decay follows torch.optim.SGD", "[ops][sgd]") {
    CpuBackend backend;
    Buffer<float> params(backend, 3), grads(backend, 3), momentum(backend, 3);
    params.upload({1.0f, -2.0f, 0.25f});
    backend.fill(momentum.view(), 0.0f);
    const SgdConfig config{0.1f, 0.9f, 0.01f};

    // Step 1: d = (0.51, 0.08, -0.9975); buf = d; p = (0.949, -2.008, 0.34975).
    grads.upload({0.5f, 0.1f, -1.0f});
    backend.sgd_update(params.view(), grads.view(), momentum.view(), config);
    require_close(params.download(), (std::vector<double>{0.949, -2.008, 0.34975}), {1e-6, 1e-7});
    require_close(momentum.download(), (std::vector<double>{0.51, 0.08, -0.9975}), {1e-6, 1e-7});

    // Step 2: d = (-0.29051, 0.17992, 0.0034975); buf = 0.9 * buf + d = (0.16849, 0.25192, -0.89425250)
    // p = (0.9321510, -2.0331920, 0.43917525).
    grads.upload({-0.3f, 0.2f, 0.0f});
    backend.sgd_update(params.view(), grads.view(), momentum.view(), config);
    require_close(momentum.download(), (std::vector<double>{0.16849, 0.25192, -0.8942525}), {1e-6, 1e-7});
    require_close(params.download(), (std::vector<double>{0.932151, -2.033192, 0.43917525}), {1e-6, 1e-7});

    // Step 3 (torch: 0.91105479, -2.01383162, 0.319218814).
    grads.upload({0.05f, -0.4f, 2.0f});
    backend.sgd_update(params.view(), grads.view(), momentum.view(), config);
    require_close(params.download(), (std::vector<double>{0.91105479, -2.01383162, 0.319218814}),
                  {1e-6, 1e-7});
}

TEST_CASE("SGD rejects buffers of different sizes", "[ops][sgd]") {
    CpuBackend backend;
    Buffer<float> a(backend, 3), b(backend, 2);
    REQUIRE_THROWS_WITH(backend.sgd_update(a.view(), b.view(), a.view(), SgdConfig{}),
                        Catch::Contains("sizes differ"));
}
