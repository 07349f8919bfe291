// LeNet-5: its parameter table, initialization, the gradient of the whole loss against finite
// differences, the snapshot schedule and the snapshot file format.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "engine/cpu/ops.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/safetensors.hpp"
#include "experiment/base_training.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/snapshots.hpp"
#include "tests/check.hpp"

using namespace twp;

namespace {

CpuBackend& backend() {
    static CpuBackend instance;
    return instance;
}

std::filesystem::path fresh_temp_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("twp_test_" + name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace

TEST_CASE("parameter layout is PyTorch's state_dict, 61,706 floats", "[lenet5]") {
    const ParamLayout& layout = LeNet5::layout();
    const std::vector<std::pair<std::string, int64_t>> expected = {
        {"conv1.weight", 0},     {"conv1.bias", 150},  {"conv2.weight", 156}, {"conv2.bias", 2556},
        {"fc1.weight", 2572},    {"fc1.bias", 50572},  {"fc2.weight", 50692}, {"fc2.bias", 60772},
        {"fc3.weight", 60856},   {"fc3.bias", 61696}};
    REQUIRE(layout.entries().size() == expected.size());
    int64_t sum = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        REQUIRE(layout.entries()[i].name == expected[i].first);
        REQUIRE(layout.entries()[i].offset == expected[i].second);
        sum += layout.entries()[i].shape.numel();
    }
    REQUIRE(sum == LeNet5::kParameterCount);
    REQUIRE(layout.total() == LeNet5::kParameterCount);
    REQUIRE(layout.at("conv2.weight").shape == Shape({16, 6, 5, 5}));
    REQUIRE(layout.at("fc1.weight").shape == Shape({120, 400}));
}

TEST_CASE("initialization is PyTorch's uniform(+-1/sqrt(fan_in)) and seeded", "[lenet5]") {
    LeNet5 a(backend(), 1), b(backend(), 1), c(backend(), 1);
    a.initialize(3);
    b.initialize(3);
    c.initialize(4);
    const std::vector<float> pa = a.parameters().download();
    REQUIRE(pa == b.parameters().download());
    REQUIRE(pa != c.parameters().download());
    const std::vector<std::pair<std::string, double>> fan_in = {
        {"conv1", 25}, {"conv2", 150}, {"fc1", 400}, {"fc2", 120}, {"fc3", 84}};
    for (const auto& [layer, fan] : fan_in)
        for (const char* part : {".weight", ".bias"}) {
            const ParamEntry& e = LeNet5::layout().at(layer + part);
            const double bound = 1.0 / std::sqrt(fan);
            double largest = 0;
            for (int64_t i = 0; i < e.shape.numel(); ++i)
                largest = std::max(largest, std::abs(double(pa[e.offset + i])));
            CAPTURE(e.name);
            REQUIRE(largest <= bound);
            if (e.shape.numel() >= 100) REQUIRE(largest > 0.9 * bound);  // uses the whole range
        }
}

// LeNet-5's loss computed again in double precision with the reference ops, straight from a flat
// parameter vector: the finite differences below run on it, where eps can be tiny.
double lenet5_loss_double(const std::vector<double>& p, const std::vector<double>& images,
                          const std::vector<int32_t>& labels) {
    const int64_t b = int64_t(labels.size());
    const ParamLayout& layout = LeNet5::layout();
    const auto at = [&](const char* name) { return p.data() + layout.at(name).offset; };
    const Conv2dDims d1{b, 1, 28, 28, 6, 5, 2}, d2{b, 6, 14, 14, 16, 5, 0};
    std::vector<double> c1(b * 6 * 784), p1(b * 6 * 196), c2(b * 16 * 100), p2(b * 400),
        f1(b * 120), f2(b * 84), out(b * 10), losses(b);
    std::vector<double> work(std::max(cpu::conv2d_workspace_size(d1), cpu::conv2d_workspace_size(d2)));
    std::vector<int32_t> arg(b * 6 * 196), correct(b);
    cpu::conv2d_forward(images.data(), at("conv1.weight"), at("conv1.bias"), c1.data(), d1, false, work.data());
    cpu::relu_forward(c1.data(), c1.data(), int64_t(c1.size()));
    cpu::maxpool2_forward(c1.data(), p1.data(), arg.data(), b * 6, 28, 28);
    cpu::conv2d_forward(p1.data(), at("conv2.weight"), at("conv2.bias"), c2.data(), d2, false, work.data());
    cpu::relu_forward(c2.data(), c2.data(), int64_t(c2.size()));
    cpu::maxpool2_forward(c2.data(), p2.data(), arg.data(), b * 16, 10, 10);
    cpu::linear_forward(p2.data(), at("fc1.weight"), at("fc1.bias"), f1.data(), b, 400, 120);
    cpu::relu_forward(f1.data(), f1.data(), int64_t(f1.size()));
    cpu::linear_forward(f1.data(), at("fc2.weight"), at("fc2.bias"), f2.data(), b, 120, 84);
    cpu::relu_forward(f2.data(), f2.data(), int64_t(f2.size()));
    cpu::linear_forward(f2.data(), at("fc3.weight"), at("fc3.bias"), out.data(), b, 84, 10);
    cpu::softmax_cross_entropy_forward(out.data(), labels.data(), losses.data(), correct.data(), b, 10);
    double sum = 0;
    for (double l : losses) sum += l;
    return sum / double(b);
}

TEST_CASE("the whole LeNet-5 loss gradient matches finite differences", "[lenet5][gradient]") {
    const int64_t batch = 4;
    LeNet5 model(backend(), batch);
    model.initialize(11);
    const std::vector<float> host_images = test::random_vector<float>(batch * 28 * 28, 12, 2.0);
    const std::vector<int32_t> host_labels = {3, 7, 0, 9};
    Buffer<float> images(backend(), batch * 28 * 28), losses(backend(), batch);
    Buffer<int32_t> labels(backend(), batch), correct(backend(), batch);
    images.upload(host_images);
    labels.upload(host_labels);
    const Tensor x = images.view({batch, 1, 28, 28});
    model.forward(x);
    model.loss(labels.view(), losses.view(), correct.view());
    model.backward(x, labels.view());
    double model_loss = 0;
    for (float l : losses.download()) model_loss += l / batch;
    const std::vector<float> grad = model.gradients().download();
    const std::vector<float> params = model.parameters().download();

    // The double-precision network is the same function as the model.
    std::vector<double> p(params.begin(), params.end());
    const std::vector<double> images_d(host_images.begin(), host_images.end());
    REQUIRE(lenet5_loss_double(p, images_d, host_labels) == Approx(model_loss).epsilon(1e-5));

    // For every parameter tensor, the derivative along a random unit direction v inside it:
    // central differences in double against the model's float gradient . v.
    for (const ParamEntry& e : LeNet5::layout().entries()) {
        CAPTURE(e.name);
        std::vector<double> v = test::random_vector<double>(e.shape.numel(), 13);
        double norm = 0;
        for (double d : v) norm += d * d;
        double analytic = 0;
        for (int64_t i = 0; i < e.shape.numel(); ++i) {
            v[i] /= std::sqrt(norm);
            analytic += grad[e.offset + i] * v[i];
        }
        const double eps = 1e-6;
        std::vector<double> shifted = p;
        for (int64_t i = 0; i < e.shape.numel(); ++i) shifted[e.offset + i] = p[e.offset + i] + eps * v[i];
        const double plus = lenet5_loss_double(shifted, images_d, host_labels);
        for (int64_t i = 0; i < e.shape.numel(); ++i) shifted[e.offset + i] = p[e.offset + i] - eps * v[i];
        const double minus = lenet5_loss_double(shifted, images_d, host_labels);
        const double numeric = (plus - minus) / (2 * eps);
        CAPTURE(analytic, numeric);
        REQUIRE(std::abs(analytic - numeric) <= 1e-3 * std::abs(numeric) + 1e-6);
    }
}

TEST_CASE("SGD steps on one batch drive its loss down; partial batches work", "[lenet5]") {
    LeNet5 model(backend(), 16);
    model.initialize(5);
    Buffer<float> images(backend(), 16 * 28 * 28), losses(backend(), 16), momentum(backend(), LeNet5::kParameterCount);
    Buffer<int32_t> labels(backend(), 16), correct(backend(), 16);
    images.upload(test::random_vector<float>(16 * 28 * 28, 14, 2.0));
    labels.upload({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5});
    backend().fill(momentum.view(), 0.0f);
    const int64_t n = 10;  // a partial batch of the 16 the model holds
    const Tensor x = images.view({n, 1, 28, 28});
    const IndexTensor y = labels.view({n});
    const auto loss = [&] {
        model.forward(x);
        model.loss(y, losses.view({n}), correct.view({n}));
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += losses.download()[i];
        return sum / n;
    };
    const double first = loss();
    for (int step = 0; step < 60; ++step) {
        loss();
        model.backward(x, y);
        backend().sgd_update(model.parameters().view(), model.gradients().view(), momentum.view(),
                             SgdConfig{0.05f, 0.9f, 5e-4f});
    }
    REQUIRE(loss() < 0.2 * first);
    REQUIRE_THROWS_WITH(model.forward(images.view({16, 1, 28, 28}).reshaped({8, 2, 28, 28})),
                        Catch::Contains("[B, 1, 28, 28]"));
}

TEST_CASE("snapshot schedule follows the reference", "[lenet5][snapshots]") {
    // 1875 batches (60,000 / 32), 10 per epoch: every 187th batch, then the epoch's end.
    const std::vector<int64_t> ten = snapshot_batches(1875, 10);
    REQUIRE(ten == std::vector<int64_t>{187, 374, 561, 748, 935, 1122, 1309, 1496, 1683, 1870, 1874});
    REQUIRE(snapshot_batches(1875, 1) == std::vector<int64_t>{1874});
    REQUIRE(snapshot_batches(10, 2) == std::vector<int64_t>{5, 9});
    // Never after batch 0 nor twice at the end; interval 0 leaves only the end of the epoch.
    REQUIRE(snapshot_batches(4, 4) == std::vector<int64_t>{1, 2, 3});
    REQUIRE(snapshot_batches(3, 5) == std::vector<int64_t>{2});
}

TEST_CASE("a snapshot is a PyTorch state_dict in safetensors with its metadata", "[lenet5][snapshots]") {
    const auto dir = fresh_temp_dir("snapshot");
    const std::vector<float> params = test::random_vector<float>(LeNet5::kParameterCount, 21);
    SnapshotRecord r;
    r.file = snapshot_file_name(2, 187);
    r.run = 1;
    r.epoch = 2;
    r.step = 2062;
    r.batch_in_epoch = 187;
    r.epoch_fraction = 187.0 / 1875.0;
    r.test_accuracy = 98.25;
    r.test_loss = 0.0512;
    r.seed = 42;
    r.dataset = "mnist";
    REQUIRE(r.file == "epoch_002_batch_00187.safetensors");

    RunIndex index = RunIndex::start_fresh(dir / "run_1");
    index.add(r, params);
    const auto path = dir / "run_1" / r.file;
    REQUIRE(read_snapshot(path) == params);
    const SafetensorsFile file = load_safetensors(path);
    REQUIRE(file.tensors.front().name == "conv1.weight");
    REQUIRE(file.at("conv1.weight").shape == std::vector<int64_t>{6, 1, 5, 5});
    REQUIRE(file.at("fc3.bias").shape == std::vector<int64_t>{10});
    REQUIRE(file.metadata.at("epoch") == "2");
    REQUIRE(file.metadata.at("step") == "2062");
    REQUIRE(std::stod(file.metadata.at("test_accuracy")) == 98.25);
    REQUIRE(std::stod(file.metadata.at("epoch_fraction")) == 187.0 / 1875.0);
    REQUIRE(file.metadata.at("dataset") == "mnist");

    const RunIndex loaded = RunIndex::load(dir / "run_1");
    REQUIRE(loaded.records().size() == 1);
    REQUIRE(loaded.records()[0].file == r.file);
    REQUIRE(loaded.records()[0].test_loss == 0.0512);

    // A fresh start removes the previous training's files, index first.
    RunIndex::start_fresh(dir / "run_1");
    REQUIRE_FALSE(std::filesystem::exists(path));
    REQUIRE_FALSE(std::filesystem::exists(dir / "run_1" / "index.json"));

    // A safetensors file that is not a LeNet-5 snapshot is refused by name.
    SafetensorsFile other;
    other.tensors.push_back(make_f32_tensor("conv1.weight", {2}, params.data()));
    save_safetensors(dir / "other.safetensors", other);
    REQUIRE_THROWS_WITH(read_snapshot(dir / "other.safetensors"), Catch::Contains("LeNet-5"));
    std::filesystem::remove_all(dir);
}
