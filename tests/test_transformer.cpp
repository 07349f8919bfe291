// The transformer predictor against PyTorch: a committed fixture (tools/make_transformer_fixture.py,
// Debian's python3-torch) holds nn.TransformerEncoder's prediction and the gradients of an MSE loss
// on fixed weights and inputs; our model must reproduce both. Also: the positional encoding, the
// reference's head rule, PyTorch's initialization, and seeded dropout in the whole model; the
// transformer recipe's zero output head and its learning rate schedule.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/cpu_backend.hpp"
#include "engine/safetensors.hpp"
#include "experiment/predictor_training.hpp"
#include "experiment/transformer.hpp"
#include "tests/check.hpp"

using namespace twp;
using test::require_close;

namespace {

CpuBackend& backend() {
    static CpuBackend instance;
    return instance;
}

const SafetensorsFile& fixture() {
    static const SafetensorsFile file =
        load_safetensors(std::string(TWP_SOURCE_DIR) + "/tests/fixtures/transformer_torch.safetensors");
    return file;
}

std::vector<float> values(const std::string& name) {
    const TensorRecord& t = fixture().at(name);
    return std::vector<float>(t.f32(), t.f32() + t.numel());
}

TransformerConfig fixture_config() {
    TransformerConfig c;
    c.dim = 20;
    c.heads = 5;
    c.layers = 2;
    c.feedforward = 32;
    c.dropout = 0.0f;
    c.sequence_length = 4;
    return c;
}

}  // namespace

TEST_CASE("the predictor reproduces PyTorch's prediction and gradients", "[transformer]") {
    const TransformerConfig config = fixture_config();
    const int64_t batch = 3;
    TransformerPredictor model(backend(), config, batch);
    std::vector<float> params(model.layout().total());
    for (const ParamEntry& e : model.layout().entries()) {
        const std::vector<float> v = values(e.name);
        REQUIRE(int64_t(v.size()) == e.shape.numel());
        std::copy(v.begin(), v.end(), params.begin() + e.offset);
    }
    model.parameters().upload(params);
    Buffer<float> input(backend(), batch * 4 * 20), target(backend(), batch * 20), dpred(backend(), batch * 20),
        loss(backend(), 1);
    input.upload(values("input"));
    target.upload(values("target"));

    const Tensor eval = model.forward(input.view({batch, 4, 20}), Pass::kInference);
    std::vector<float> prediction(batch * 20);
    backend().copy_to_host(prediction.data(), eval.data, sizeof(float) * prediction.size());
    require_close(prediction, values("prediction"), {1e-4, 1e-5});

    const Tensor pred = model.forward(input.view({batch, 4, 20}), Pass::kTraining, 7, 0);
    backend().mse_loss_forward(pred, target.view({batch, 20}), loss.view({1}));
    REQUIRE(loss.download()[0] == Approx(values("loss")[0]).epsilon(1e-5));
    backend().mse_loss_backward(pred, target.view({batch, 20}), dpred.view({batch, 20}));
    model.backward(dpred.view({batch, 20}));
    const std::vector<float> grads = model.gradients().download();
    for (const ParamEntry& e : model.layout().entries()) {
        CAPTURE(e.name);
        const std::vector<float> ours(grads.begin() + e.offset, grads.begin() + e.offset + e.shape.numel());
        require_close(ours, values("grad." + e.name), {1e-3, 1e-6});
    }
}

TEST_CASE("positional encoding and the reference's head rule", "[transformer]") {
    const std::vector<float> pe = positional_encoding(3, 4);
    // pe[s, 2j] = sin(s * 10000^(-2j/D)), pe[s, 2j+1] = cos(...)
    REQUIRE(pe[0] == 0.0f);
    REQUIRE(pe[1] == 1.0f);
    REQUIRE(pe[4 + 0] == Approx(std::sin(1.0)).epsilon(1e-6));
    REQUIRE(pe[4 + 1] == Approx(std::cos(1.0)).epsilon(1e-6));
    REQUIRE(pe[8 + 2] == Approx(std::sin(2.0 / 100.0)).epsilon(1e-5));
    REQUIRE(pe[8 + 3] == Approx(std::cos(2.0 / 100.0)).epsilon(1e-6));
    const std::vector<float> odd = positional_encoding(2, 5);  // the last sine has no cosine
    REQUIRE(odd[5 + 4] == Approx(std::sin(std::exp(-4.0 * std::log(10000.0) / 5.0))).epsilon(1e-5));

    REQUIRE(reference_heads(512) == 8);
    REQUIRE(reference_heads(500) == 5);
    REQUIRE(reference_heads(12) == 6);
    REQUIRE(reference_heads(21) == 7);
    REQUIRE(reference_heads(13) == 1);
    REQUIRE(reference_heads(40) == 8);
}

TEST_CASE("initialization follows PyTorch and copies layer 0 into every layer", "[transformer]") {
    TransformerConfig config = fixture_config();
    config.layers = 3;
    TransformerPredictor model(backend(), config, 1);
    model.initialize(3);
    const std::vector<float> p = model.parameters().download();
    const ParamLayout& layout = model.layout();
    const auto tensor = [&](const std::string& name) {
        const ParamEntry& e = layout.at(name);
        return std::vector<float>(p.begin() + e.offset, p.begin() + e.offset + e.shape.numel());
    };
    const auto max_abs = [](const std::vector<float>& v) { return test::largest_magnitude(v); };
    const std::string l0 = "transformer_encoder.layers.0.";
    REQUIRE(max_abs(tensor(l0 + "self_attn.in_proj_weight")) <= std::sqrt(6.0f / 80.0f));
    REQUIRE(max_abs(tensor(l0 + "self_attn.in_proj_weight")) > 0.9f * std::sqrt(6.0f / 80.0f));
    REQUIRE(max_abs(tensor(l0 + "self_attn.in_proj_bias")) == 0.0f);
    REQUIRE(max_abs(tensor(l0 + "self_attn.out_proj.bias")) == 0.0f);
    REQUIRE(max_abs(tensor(l0 + "linear2.weight")) <= 1.0f / std::sqrt(32.0f));
    REQUIRE(tensor(l0 + "norm1.weight") == std::vector<float>(20, 1.0f));
    REQUIRE(tensor(l0 + "norm2.bias") == std::vector<float>(20, 0.0f));
    for (const char* name : {"self_attn.in_proj_weight", "linear1.weight", "linear2.bias"})
        REQUIRE(tensor("transformer_encoder.layers.2." + std::string(name)) == tensor(l0 + name));
    REQUIRE(max_abs(tensor("output_projection.weight")) > 0.0f);
}

TEST_CASE("dropout in the whole model: seeded masks and a consistent gradient", "[transformer][gradient]") {
    TransformerConfig config = fixture_config();
    config.dropout = 0.2f;
    const int64_t batch = 2;
    TransformerPredictor model(backend(), config, batch);
    model.initialize(5);
    Buffer<float> input(backend(), batch * 4 * 20), dpred(backend(), batch * 20);
    input.upload(test::random_vector<float>(batch * 4 * 20, 31));
    const std::vector<float> r = test::random_vector<float>(batch * 20, 32);
    dpred.upload(r);
    const Tensor x = input.view({batch, 4, 20});
    const auto objective = [&](uint64_t offset) {  // L = sum(prediction * r)
        const Tensor pred = model.forward(x, Pass::kTraining, 9, offset);
        std::vector<float> host(batch * 20);
        backend().copy_to_host(host.data(), pred.data, sizeof(float) * host.size());
        double sum = 0;
        for (size_t i = 0; i < host.size(); ++i) sum += double(host[i]) * r[i];
        return sum;
    };
    REQUIRE(objective(100) == objective(100));
    REQUIRE(objective(100) != objective(100 + model.dropout_counters(batch)));
    const Tensor eval_a = model.forward(x, Pass::kInference);
    std::vector<float> a(batch * 20), b(batch * 20);
    backend().copy_to_host(a.data(), eval_a.data, sizeof(float) * a.size());
    model.forward(x, Pass::kInference, 1, 1);
    backend().copy_to_host(b.data(), eval_a.data, sizeof(float) * b.size());
    REQUIRE(a == b);  // no dropout at inference

    objective(100);
    model.backward(dpred.view({batch, 20}));
    const std::vector<float> grad = model.gradients().download();
    const std::vector<float> base = model.parameters().download();
    // Along a random direction over all parameters, with the same dropout masks.
    std::vector<double> v = test::random_vector<double>(base.size(), 33);
    double norm = 0, analytic = 0;
    for (double d : v) norm += d * d;
    for (size_t i = 0; i < v.size(); ++i) {
        v[i] /= std::sqrt(norm);
        analytic += grad[i] * v[i];
    }
    const double eps = 1e-2;
    std::vector<float> shifted(base.size());
    for (size_t i = 0; i < base.size(); ++i) shifted[i] = float(base[i] + eps * v[i]);
    model.parameters().upload(shifted);
    const double plus = objective(100);
    for (size_t i = 0; i < base.size(); ++i) shifted[i] = float(base[i] - eps * v[i]);
    model.parameters().upload(shifted);
    const double minus = objective(100);
    const double numeric = (plus - minus) / (2 * eps);
    CAPTURE(analytic, numeric);
    REQUIRE(std::abs(analytic - numeric) <= 2e-2 * std::abs(numeric) + 1e-4);
}

TEST_CASE("a zero output head predicts zero and leaves every other parameter as drawn", "[transformer][recipe]") {
    const TransformerConfig config = fixture_config();
    TransformerPredictor drawn(backend(), config, 2), zero(backend(), config, 2);
    drawn.initialize(11);
    zero.initialize(11, true);
    const std::vector<float> a = drawn.parameters().download(), b = zero.parameters().download();
    for (const ParamEntry& e : drawn.layout().entries()) {
        CAPTURE(e.name);
        const bool head = e.name.rfind("output_projection.", 0) == 0;
        for (int64_t i = e.offset; i < e.offset + e.shape.numel(); ++i) REQUIRE(b[i] == (head ? 0.0f : a[i]));
    }
    Buffer<float> inputs(backend(), 2 * config.sequence_length * config.dim);
    std::vector<float> host(size_t(inputs.count()));
    for (size_t i = 0; i < host.size(); ++i) host[i] = std::sin(0.37f * float(i));
    inputs.upload(host);
    const Tensor pred = zero.forward(inputs.view({2, config.sequence_length, config.dim}), Pass::kInference);
    std::vector<float> out(2 * config.dim, 1.0f);
    backend().copy_to_host(out.data(), pred.data, sizeof(float) * out.size());
    REQUIRE(out == std::vector<float>(out.size(), 0.0f));
}

TEST_CASE("the learning rate schedule: linear warmup, then a cosine to the minimum", "[transformer][recipe][schedule]") {
    PredictorOptions o;
    o.learning_rate = 1e-3f;
    // The reference: constant.
    for (int64_t step : {1, 2, 100, 100000}) REQUIRE(scheduled_learning_rate(o, step) == 1e-3f);
    o.warmup_steps = 100;
    o.decay_steps = 1100;
    o.min_learning_rate = 1e-5f;
    const double pi = 3.14159265358979323846;
    const auto cosine = [&](int64_t step) {
        return 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + std::cos(pi * double(step - 100) / 1000.0));
    };
    CHECK(scheduled_learning_rate(o, 1) == Approx(1e-5).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 50) == Approx(5e-4).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 100) == Approx(1e-3).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 101) == Approx(cosine(101)).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 600) == Approx(0.5 * (1e-3 + 1e-5)).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 850) == Approx(cosine(850)).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 1100) == Approx(1e-5).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 5000) == Approx(1e-5).epsilon(1e-6));
    // Warmup alone: constant after it.
    o.decay_steps = 0;
    CHECK(scheduled_learning_rate(o, 10) == Approx(1e-4).epsilon(1e-6));
    CHECK(scheduled_learning_rate(o, 1000) == 1e-3f);
}
