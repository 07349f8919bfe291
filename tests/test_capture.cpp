// CUDA-graph capture on the CUDA backend, against what the CUDA runtime allows: a fresh backend's
// very first op may be inside a capture (so nothing may be made lazily by a first op: the cuBLAS
// and cuSOLVER handles and the cuBLAS workspace come with the backend); inside a capture,
// allocation, free, library handles, host copies and synchronization are refused and spoil it,
// and no refused call leaves an error behind for the next launch to report as its own; base
// training captures its step after one step op by op, and runs op by op when no graph can be
// made; the GEMMs leave the math mode each asked for. Built twice (CMakeLists.txt,
// twp_backend_test): against the emulation, which refuses what a capture refuses
// (kernels/emu/capture.hpp), and natively (label gpu), where the runtime itself refuses.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/buffer.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/cuda_backend.hpp"
#include "engine/pca.hpp"
#include "experiment/base_training.hpp"
#include "experiment/snapshots.hpp"
#include "tests/check.hpp"
#include "tests/synthetic_mnist.hpp"

#if defined(TWP_CUDA_EMULATION) && TWP_CUDA_EMULATION
#include "kernels/emu/capture.hpp"
#endif

namespace twp {
namespace {

using test::relative_difference;

std::vector<float> random_values(int64_t count, uint32_t seed) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> values(count);
    for (float& v : values) v = uniform(random);
    return values;
}

// A linear layer's forward and backward on one backend, on buffers made before any capture.
struct LinearLayer {
    static constexpr int64_t kBatch = 4, kIn = 8, kOut = 5;
    Backend& backend;
    Buffer<float> x, w, b, y, dy, dx, dw, db;

    explicit LinearLayer(Backend& be)
        : backend(be), x(be, kBatch * kIn), w(be, kOut * kIn), b(be, kOut), y(be, kBatch * kOut),
          dy(be, kBatch * kOut), dx(be, kBatch * kIn), dw(be, kOut * kIn), db(be, kOut) {
        x.upload(random_values(kBatch * kIn, 1));
        w.upload(random_values(kOut * kIn, 2));
        b.upload(random_values(kOut, 3));
        dy.upload(random_values(kBatch * kOut, 4));
    }
    void forward_backward() {
        backend.linear_forward(x.view({kBatch, kIn}), w.view({kOut, kIn}), b.view({kOut}), y.view({kBatch, kOut}),
                               Activation::kRelu);
        backend.linear_backward(x.view({kBatch, kIn}), w.view({kOut, kIn}), dy.view({kBatch, kOut}),
                                dx.view({kBatch, kIn}), dw.view({kOut, kIn}), db.view({kOut}));
    }
};

// After whatever happened before, a launch and a copy work and give the right answer: no error
// was left behind to be blamed on them.
void require_clean(CudaBackend& backend) {
    Buffer<float> probe(backend, 3);
    backend.fill(probe.view(), 2.5f);
    REQUIRE(probe.download() == std::vector<float>{2.5f, 2.5f, 2.5f});
}

TEST_CASE("a fresh CUDA backend's very first op may be inside a capture", "[capture]") {
    CudaBackend fresh(0);
    LinearLayer gpu(fresh);
    // The first GEMMs this backend ever runs, inside the capture: nothing may be created lazily.
    const std::unique_ptr<CapturedWork> graph = fresh.capture([&] { gpu.forward_backward(); });
    REQUIRE(graph);
    // Capturing ran nothing; the outputs are poisoned so that only the replay can fill them.
    for (Buffer<float>* output : {&gpu.y, &gpu.dx, &gpu.dw, &gpu.db}) fresh.fill(output->view(), NAN);
    fresh.replay(*graph);

    CpuBackend cpu;
    LinearLayer host(cpu);
    host.forward_backward();
    // fp32 sums in another order (cuBLAS on a GPU): agreement to a few 1e-7 of each tensor's scale.
    CHECK(relative_difference(gpu.y.download(), host.y.download()) < 1e-5);
    CHECK(relative_difference(gpu.dx.download(), host.dx.download()) < 1e-5);
    CHECK(relative_difference(gpu.dw.download(), host.dw.download()) < 1e-5);
    CHECK(relative_difference(gpu.db.download(), host.db.download()) < 1e-5);
    require_clean(fresh);
}

TEST_CASE("inside a capture what CUDA refuses is refused, spoils the capture and leaves no error behind",
          "[capture]") {
    CudaBackend backend(0);
    Buffer<float> made_before(backend, 16);
    std::vector<float> host(16, 1.0f);
    const std::vector<std::pair<std::string, std::function<void()>>> refused = {
        {"allocating device memory", [&] { Buffer<float> inside(backend, 16); }},
        {"freeing device memory", [&] { Buffer<float> gone = std::move(made_before); }},
        {"a copy from the host", [&] { backend.copy_from_host(made_before.data(), host.data(), 16); }},
        {"a copy to the host", [&] { backend.copy_to_host(host.data(), made_before.data(), 16); }},
        {"synchronizing", [&] { backend.synchronize(); }},
        {"making cuBLAS and cuSOLVER handles", [&] { kernels::LibraryHandles handles(backend.stream()); }},
    };
    for (const auto& [what, work] : refused) {
        CAPTURE(what);
        if (made_before.data() == nullptr) made_before = Buffer<float>(backend, 16);
        // Each with a launch queued before it in the same capture, as a real step would have.
        REQUIRE_THROWS_AS(backend.capture([&] {
            backend.fill(made_before.view(), 0.0f);
            work();
        }),
                          Error);
        require_clean(backend);
    }
    // And a capture of allowed work still works afterwards.
    const std::unique_ptr<CapturedWork> graph = backend.capture([&] { backend.fill(made_before.view(), 4.0f); });
    backend.replay(*graph);
    REQUIRE(made_before.download() == std::vector<float>(16, 4.0f));
}

TEST_CASE("the GEMMs leave the math mode each needs: default for the PCA's doubles, pedantic FP32 or TF32 for floats",
          "[capture]") {
    CudaBackend backend(0);
    LinearLayer layer(backend);
    layer.forward_backward();
    CHECK(backend.libraries().math_mode() == kernels::MathMode::kPedantic);
    // A PCA fit on the backend: DSYRK for the Gram matrix, DGEMM for the components.
    const std::vector<float> x = random_values(12 * 40, 5);
    const PcaModel model = fit_pca(backend, x.data(), 12, 40, 3);
    REQUIRE(model.components == 3);
    CHECK(backend.libraries().math_mode() == kernels::MathMode::kDefault);
    layer.forward_backward();
    CHECK(backend.libraries().math_mode() == kernels::MathMode::kPedantic);

    CudaBackend tf32(0, true);
    LinearLayer fast(tf32);
    fast.forward_backward();
    CHECK(tf32.libraries().math_mode() == kernels::MathMode::kTf32);
}

// Base training's final snapshot on a fresh backend (the step is captured after the first one).
std::vector<float> train_final_snapshot(Backend& backend, const std::filesystem::path& dir) {
    Dataset dataset;
    dataset.name = "mnist";
    dataset.train = test::synthetic_mnist(330, 13);  // 11 batches: 10 of 32 and one of 10
    dataset.test = test::synthetic_mnist(100, 14);
    BaseTrainingOptions options;
    options.epochs = 1;
    options.snapshots_per_epoch = 1;
    options.num_runs = 1;
    options.show_progress = false;
    options.snapshot_dir = dir;
    std::filesystem::remove_all(dir);
    train_base(backend, dataset, options);
    const RunIndex index = RunIndex::load(run_directory(dir, 1));
    std::vector<float> final = read_snapshot(index.directory() / index.records().back().file);
    std::filesystem::remove_all(dir);
    return final;
}

TEST_CASE("base training captures its step on a fresh backend, and runs op by op when it cannot", "[capture]") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("twp_test_capture_" + std::to_string(::getpid()));
    // The CPU backend first: it pins OpenBLAS to one thread, and the emulated GEMMs run on
    // OpenBLAS too, whose sgemm does not give the same bits with two threads as with one. Made
    // after the captured run, it left that run on OpenBLAS's default threads and the op-by-op run
    // below on one, and the two snapshots differed on a 2-core machine.
    CpuBackend cpu;
    CudaBackend fresh(0);
    const std::vector<float> captured = train_final_snapshot(fresh, dir);
    REQUIRE(captured.size() == size_t(LeNet5::kParameterCount));
    CHECK(relative_difference(captured, train_final_snapshot(cpu, dir)) < 1e-4);
#if defined(TWP_CUDA_EMULATION) && TWP_CUDA_EMULATION
    // The capture fails as a GPU's would when no graph can be made: the run goes on op by op and
    // ends where the captured run ended, bit for bit (replaying a step computes what running it
    // does).
    CudaBackend spoiled(0);
    emu::spoil_next_capture();
    CHECK(train_final_snapshot(spoiled, dir) == captured);
    require_clean(spoiled);
#endif
}

}  // namespace
}  // namespace twp
