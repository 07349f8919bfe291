// Every op of the Backend interface, timed one at a time on the CPU backend at the shapes the
// models run: LeNet-5's layers at batch 32, and the transformer predictor's at B = 32 windows of
// S = 3 snapshots, D = 500, 5 heads, feed-forward 2048, dropout 0.1 (B*S = 96 rows); Adam over the
// whole predictor (6 layers plus the output projection); the diffusion forecaster's noise, timestep
// embedding and noising at batch 2048, 60 PCA coefficients, embedding 64. Inputs are random: no op's speed depends
// on the values. Each case is warmed up, then timed over several windows; the median window gives
// ms per call, and GFLOP/s (GEMM-like ops: 2 flops per multiply-add) or GB/s (memory-bound ops:
// bytes the op must read and write at least once) follow from it. Prints one JSON object.
//
// usage: bench_ops [--seconds S per case, default 0.2] [--threads N] [--filter SUBSTRING]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/buffer.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"

using namespace twp;

namespace {

struct Case {
    std::string op;     // the Backend method
    std::string model;  // "lenet5", "transformer" or "diffusion"
    std::string shape;  // what it runs on, for the reader
    double flops = 0;   // per call; 0 where not meaningful
    double bytes = 0;   // per call; 0 where not meaningful
    std::function<void()> run;
};

// Milliseconds per call: warm-up, then the median over `repeats` windows of seconds/repeats each.
double median_ms(const std::function<void()>& run, double seconds, int repeats = 5) {
    const auto now = [] { return std::chrono::steady_clock::now(); };
    const auto warm_start = now();
    for (int i = 0; i < 3 || std::chrono::duration<double>(now() - warm_start).count() < seconds / 10; ++i)
        run();
    std::vector<double> per_call;
    for (int r = 0; r < repeats; ++r) {
        int64_t calls = 0;
        const auto start = now();
        double elapsed = 0;
        do {
            run();
            ++calls;
            elapsed = std::chrono::duration<double>(now() - start).count();
        } while (elapsed < seconds / repeats);
        per_call.push_back(1e3 * elapsed / double(calls));
    }
    std::sort(per_call.begin(), per_call.end());
    return per_call[per_call.size() / 2];
}

// Buffers for the cases; they live until the end of the run.
class Arena {
public:
    explicit Arena(Backend& backend) : backend_(backend) {}
    Tensor random(Shape shape, float bound = 1.0f) {
        std::vector<float> host(shape.numel());
        for (float& v : host) v = rng_.uniform(bound);
        floats_.emplace_back(backend_, shape.numel());
        floats_.back().upload(host);
        return floats_.back().view(shape);
    }
    Tensor zeros(Shape shape) {
        floats_.emplace_back(backend_, shape.numel());
        backend_.fill(floats_.back().view(), 0.0f);
        return floats_.back().view(shape);
    }
    IndexTensor indices(Shape shape, int32_t below) {
        std::vector<int32_t> host(shape.numel());
        for (int32_t& v : host) v = int32_t(rng_.below(uint32_t(below)));
        indices_.emplace_back(backend_, shape.numel());
        indices_.back().upload(host);
        return indices_.back().view(shape);
    }
    // 0, step, 2 step, ...: distinct rows.
    IndexTensor strided(int64_t count, int32_t first, int32_t step) {
        std::vector<int32_t> host(count);
        for (int64_t i = 0; i < count; ++i) host[i] = first + int32_t(i) * step;
        indices_.emplace_back(backend_, count);
        indices_.back().upload(host);
        return indices_.back().view({count});
    }

private:
    Backend& backend_;
    Rng rng_{1, RngStream::kInit};
    std::vector<Buffer<float>> floats_;
    std::vector<Buffer<int32_t>> indices_;
};

std::string str(Shape s) { return s.str(); }

// ---- LeNet-5 at batch 32 ----
void conv_cases(std::vector<Case>& cases, Backend& backend, Arena& arena, const std::string& layer,
                Shape xs, Shape ws, int padding, bool input_gradient) {
    const Conv2dDims d{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], padding};
    const Shape ys{d.batch, d.out_channels, d.out_height(), d.out_width()};
    const Tensor x = arena.random(xs), w = arena.random(ws, 0.2f), b = arena.random({ws[0]});
    const Tensor y = arena.zeros(ys), dy = arena.random(ys), dw = arena.zeros(ws), db = arena.zeros({ws[0]});
    const Tensor dx = input_gradient ? arena.zeros(xs) : Tensor{};
    const Tensor work = arena.zeros({backend.conv2d_workspace_floats(xs, ws, padding)});
    const double gemm = 2.0 * double(d.batch * d.out_channels * d.pixels() * d.patch());
    const std::string shape = layer + ": x " + str(xs) + ", w " + str(ws) + ", padding " + std::to_string(padding);
    cases.push_back({"conv2d_forward", "lenet5", shape + ", relu, training", gemm, 0, [=, &backend] {
        backend.conv2d_forward(x, w, b, y, padding, Activation::kRelu, Pass::kTraining, work);
    }});
    cases.push_back({"conv2d_backward", "lenet5", shape + (input_gradient ? "" : ", no dx"),
                     gemm * (input_gradient ? 2 : 1), 0, [=, &backend] {
        backend.conv2d_backward(x, w, dy, dx, dw, db, padding, work);
    }});
}

void maxpool_cases(std::vector<Case>& cases, Backend& backend, Arena& arena, Shape xs) {
    const Shape ys{xs[0], xs[1], xs[2] / 2, xs[3] / 2};
    const Tensor x = arena.random(xs), y = arena.zeros(ys), dy = arena.random(ys), dx = arena.zeros(xs);
    IndexTensor argmax = arena.indices(ys, 4);
    const double in = 4.0 * double(xs.numel()), out = 4.0 * double(ys.numel());
    cases.push_back({"maxpool2_forward", "lenet5", "x " + str(xs), 0, in + 2 * out,
                     [=, &backend] { backend.maxpool2_forward(x, y, argmax); }});
    cases.push_back({"maxpool2_backward", "lenet5", "dx " + str(xs), 0, in + 2 * out,
                     [=, &backend] { backend.maxpool2_backward(dy, argmax, dx); }});
}

void linear_cases(std::vector<Case>& cases, Backend& backend, Arena& arena, const std::string& model,
                  const std::string& layer, int64_t batch, int64_t in, int64_t out, bool relu) {
    const Tensor x = arena.random({batch, in}), w = arena.random({out, in}, 0.05f), b = arena.random({out});
    const Tensor y = arena.zeros({batch, out}), dy = arena.random({batch, out});
    const Tensor dx = arena.zeros({batch, in}), dw = arena.zeros({out, in}), db = arena.zeros({out});
    const double gemm = 2.0 * double(batch * in * out);
    const std::string shape = layer + ": x " + str({batch, in}) + ", w " + str({out, in});
    const Activation activation = relu ? Activation::kRelu : Activation::kNone;
    cases.push_back({"linear_forward", model, shape + (relu ? ", relu" : ""), gemm, 0,
                     [=, &backend] { backend.linear_forward(x, w, b, y, activation); }});
    cases.push_back({"linear_backward", model, shape, 2 * gemm, 0,
                     [=, &backend] { backend.linear_backward(x, w, dy, dx, dw, db); }});
}

void lenet5_cases(std::vector<Case>& cases, Backend& backend, Arena& arena) {
    const int64_t batch = 32;
    const Tensor train = arena.random({60000, 1, 28, 28});
    const IndexTensor rows = arena.indices({batch}, 60000);
    const Tensor images = arena.zeros({batch, 1, 28, 28});
    cases.push_back({"gather_rows", "lenet5", "[32, 1, 28, 28] from [60000, 1, 28, 28]", 0,
                     2.0 * 4 * double(images.numel()),
                     [=, &backend] { backend.gather_rows(train, rows, images); }});
    conv_cases(cases, backend, arena, "conv1", {batch, 1, 28, 28}, {6, 1, 5, 5}, 2, false);
    maxpool_cases(cases, backend, arena, {batch, 6, 28, 28});
    conv_cases(cases, backend, arena, "conv2", {batch, 6, 14, 14}, {16, 6, 5, 5}, 0, true);
    maxpool_cases(cases, backend, arena, {batch, 16, 10, 10});
    linear_cases(cases, backend, arena, "lenet5", "fc1", batch, 400, 120, true);
    linear_cases(cases, backend, arena, "lenet5", "fc2", batch, 120, 84, true);
    linear_cases(cases, backend, arena, "lenet5", "fc3", batch, 84, 10, false);

    const Tensor a = arena.random({batch, 6, 28, 28}), r = arena.zeros({batch, 6, 28, 28}),
                 dr = arena.random({batch, 6, 28, 28}), dar = arena.zeros({batch, 6, 28, 28});
    const double n = double(a.numel());
    cases.push_back({"relu_forward", "lenet5", "x " + str(a.shape) + " (fused into conv/linear in LeNet-5)",
                     0, 2 * 4 * n, [=, &backend] { backend.relu_forward(a, r); }});
    cases.push_back({"relu_backward", "lenet5", "y " + str(a.shape), 0, 3 * 4 * n,
                     [=, &backend] { backend.relu_backward(a, dr, dar); }});

    const Tensor logits = arena.random({batch, 10}, 3.0f), losses = arena.zeros({batch}),
                 dlogits = arena.zeros({batch, 10});
    const IndexTensor labels = arena.indices({batch}, 10), correct = arena.indices({batch}, 2);
    cases.push_back({"softmax_cross_entropy_forward", "lenet5", "logits [32, 10]", 0, 0,
                     [=, &backend] {
                         backend.softmax_cross_entropy_forward(logits, labels, losses, correct);
                     }});
    cases.push_back({"softmax_cross_entropy_backward", "lenet5", "logits [32, 10]", 0, 0,
                     [=, &backend] { backend.softmax_cross_entropy_backward(logits, labels, dlogits); }});

    const int64_t parameters = 61706;
    const Tensor p = arena.random({parameters}), g = arena.random({parameters}, 0.01f),
                 momentum = arena.zeros({parameters});
    const SgdConfig sgd;
    cases.push_back({"sgd_update", "lenet5", "61,706 parameters", 0, 5 * 4 * double(parameters),
                     [=, &backend] { backend.sgd_update(p, g, momentum, sgd); }});
}

// ---- the transformer predictor at B = 32, S = 3, D = 500, H = 5, F = 2048 ----
void transformer_cases(std::vector<Case>& cases, Backend& backend, Arena& arena) {
    const int64_t batch = 32, seq = 3, dim = 500, feedforward = 2048, layers = 6;
    const int heads = 5;
    const int64_t rows = batch * seq;
    const Shape xs{rows, dim};
    const double row_bytes = 4.0 * double(rows * dim);

    const Tensor inputs = arena.random({batch, seq, dim}), pe = arena.random({seq, dim});
    cases.push_back({"add_row_broadcast", "transformer", "x [32, 3, 500] + pe [3, 500]", 0, 2 * row_bytes,
                     [=, &backend] { backend.add_row_broadcast(inputs, pe, inputs); }});

    linear_cases(cases, backend, arena, "transformer", "in_proj", rows, dim, 3 * dim, false);

    const Tensor qkv = arena.random({batch, seq, 3 * dim}), probs = arena.zeros({batch, heads, seq, seq});
    const Tensor attn = arena.zeros({batch, seq, dim}), dattn = arena.random({batch, seq, dim});
    const Tensor dqkv = arena.zeros({batch, seq, 3 * dim});
    const DropoutSpec attention_dropout{0.1f, 7, 0};
    const double attention_flops = 4.0 * double(batch * heads * seq * seq * (dim / heads));
    const std::string attention_shape = "qkv [32, 3, 1500], 5 heads, dropout 0.1";
    backend.attention_forward(qkv, heads, attention_dropout, probs, attn);  // probs for backward
    cases.push_back({"attention_forward", "transformer", attention_shape, attention_flops, 0,
                     [=, &backend] {
                         backend.attention_forward(qkv, heads, attention_dropout, probs, attn);
                     }});
    cases.push_back({"attention_backward", "transformer", attention_shape, 2 * attention_flops, 0,
                     [=, &backend] {
                         backend.attention_backward(qkv, heads, attention_dropout, probs, dattn, dqkv);
                     }});

    linear_cases(cases, backend, arena, "transformer", "out_proj", rows, dim, dim, false);

    const Tensor h = arena.random(xs), hd = arena.zeros(xs);
    const DropoutSpec dropout{0.1f, 7, 1000};
    cases.push_back({"dropout_forward", "transformer", "x [96, 500], p 0.1", 0, 2 * row_bytes,
                     [=, &backend] { backend.dropout_forward(h, hd, dropout); }});
    cases.push_back({"dropout_backward", "transformer", "dy [96, 500], p 0.1", 0, 2 * row_bytes,
                     [=, &backend] { backend.dropout_backward(h, hd, dropout); }});
    cases.push_back({"dropout_forward", "transformer", "x [96, 500], p 0 (eval: a copy)", 0, 2 * row_bytes,
                     [=, &backend] { backend.dropout_forward(h, hd, DropoutSpec{}); }});

    const Tensor residual = arena.random(xs), sum = arena.zeros(xs);
    cases.push_back({"add", "transformer", "[96, 500] + [96, 500]", 0, 3 * row_bytes,
                     [=, &backend] { backend.add(h, residual, sum); }});

    const Tensor gamma = arena.random({dim}), beta = arena.random({dim}), normed = arena.zeros(xs);
    const Tensor mean = arena.zeros({rows}), rstd = arena.zeros({rows}), dnormed = arena.random(xs);
    const Tensor dsum = arena.zeros(xs), dgamma = arena.zeros({dim}), dbeta = arena.zeros({dim});
    backend.layer_norm_forward(sum, gamma, beta, 1e-5f, normed, mean, rstd);
    cases.push_back({"layer_norm_forward", "transformer", "x [96, 500]", 0, 2 * row_bytes,
                     [=, &backend] {
                         backend.layer_norm_forward(sum, gamma, beta, 1e-5f, normed, mean, rstd);
                     }});
    cases.push_back({"layer_norm_backward", "transformer", "x [96, 500]", 0, 3 * row_bytes,
                     [=, &backend] {
                         backend.layer_norm_backward(sum, gamma, mean, rstd, dnormed, dsum, dgamma, dbeta);
                     }});

    linear_cases(cases, backend, arena, "transformer", "linear1", rows, dim, feedforward, true);
    const Tensor f = arena.random({rows, feedforward}), fd = arena.zeros({rows, feedforward});
    const double f_bytes = 4.0 * double(rows * feedforward);
    cases.push_back({"dropout_forward", "transformer", "x [96, 2048], p 0.1", 0, 2 * f_bytes,
                     [=, &backend] { backend.dropout_forward(f, fd, dropout); }});
    cases.push_back({"relu_backward", "transformer", "y [96, 2048]", 0, 3 * f_bytes,
                     [=, &backend] { backend.relu_backward(f, f, fd); }});
    linear_cases(cases, backend, arena, "transformer", "linear2", rows, feedforward, dim, false);

    // The prediction: the last position of every window, projected, scored with MSE.
    const IndexTensor last = arena.strided(batch, int32_t(seq - 1), int32_t(seq));
    const Tensor last_rows = arena.zeros({batch, dim}), dlast = arena.random({batch, dim});
    const Tensor dx = arena.zeros(xs);
    const double batch_bytes = 4.0 * double(batch * dim);
    cases.push_back({"gather_rows", "transformer", "[32, 500] from [96, 500]", 0, 2 * batch_bytes,
                     [=, &backend] { backend.gather_rows(h, last, last_rows); }});
    cases.push_back({"scatter_rows", "transformer", "[32, 500] into [96, 500]", 0, 2 * batch_bytes,
                     [=, &backend] { backend.scatter_rows(dlast, last, dx); }});
    linear_cases(cases, backend, arena, "transformer", "output_projection", batch, dim, dim, false);

    const Tensor pred = arena.random({batch, dim}), target = arena.random({batch, dim});
    const Tensor loss = arena.zeros({1}), dpred = arena.zeros({batch, dim});
    cases.push_back({"mse_loss_forward", "transformer", "pred [32, 500]", 0, 2 * batch_bytes,
                     [=, &backend] { backend.mse_loss_forward(pred, target, loss); }});
    cases.push_back({"mse_loss_backward", "transformer", "pred [32, 500]", 0, 3 * batch_bytes,
                     [=, &backend] { backend.mse_loss_backward(pred, target, dpred); }});

    const int64_t per_layer = 3 * dim * dim + 3 * dim + dim * dim + dim + feedforward * dim + feedforward +
                              dim * feedforward + dim + 4 * dim;
    const int64_t parameters = layers * per_layer + dim * dim + dim;
    const Tensor p = arena.random({parameters}, 0.05f), g = arena.random({parameters}, 0.01f);
    const Tensor m = arena.zeros({parameters}), v = arena.zeros({parameters});
    const AdamConfig adam;
    const std::string adam_shape = std::to_string(parameters) + " parameters (6 layers + output projection)";
    auto step = std::make_shared<int64_t>(0);
    cases.push_back({"adam_update", "transformer", adam_shape, 0, 7 * 4 * double(parameters),
                     [=, &backend] { backend.adam_update(p, g, m, v, ++*step, adam); }});
}

// ---- the diffusion forecaster at batch 2048, 60 PCA coefficients, a 64-wide timestep embedding ----
void diffusion_cases(std::vector<Case>& cases, Backend& backend, Arena& arena) {
    const int64_t batch = 2048, coefficients = 60, embedding = 64;
    const Shape xs{batch, coefficients}, rs{batch}, es{batch, embedding};
    const double x_bytes = 4.0 * double(batch * coefficients), row_bytes = 4.0 * double(batch),
                 emb_bytes = 4.0 * double(batch * embedding);

    const Tensor noise = arena.zeros(xs);
    auto offset = std::make_shared<uint64_t>(0);
    cases.push_back({"normal_fill", "diffusion", "eps [2048, 60]", 0, x_bytes, [=, &backend] {
        backend.normal_fill(noise, 3, *offset);
        *offset += uint64_t(noise.numel());
    }});

    // t: integer steps 0..999, as floats.
    const Tensor t = arena.random(rs, 500.0f), emb = arena.zeros(es), demb = arena.random(es), dt = arena.zeros(rs);
    cases.push_back({"timestep_embedding_forward", "diffusion", "t [2048] -> emb [2048, 64]", 0, row_bytes + emb_bytes,
                     [=, &backend] { backend.timestep_embedding_forward(t, emb); }});
    cases.push_back({"timestep_embedding_backward", "diffusion", "demb [2048, 64] -> dt [2048]", 0,
                     2 * row_bytes + emb_bytes,
                     [=, &backend] { backend.timestep_embedding_backward(t, demb, dt); }});

    // The noising x_t = sqrt(abar) x0 + sqrt(1 - abar) eps: 3 flops an element.
    const Tensor a = arena.random(rs), c = arena.random(rs), x0 = arena.random(xs), xt = arena.zeros(xs);
    const Tensor dout = arena.random(xs), dx = arena.zeros(xs), dy = arena.zeros(xs), da = arena.zeros(rs),
                 dc = arena.zeros(rs);
    const double n = double(batch * coefficients);
    cases.push_back({"row_combine_forward", "diffusion", "x [2048, 60], a, c [2048]", 3 * n,
                     3 * x_bytes + 2 * row_bytes,
                     [=, &backend] { backend.row_combine_forward(a, x0, c, noise, xt); }});
    // dx, dy: a product each; da, dc: a multiply-add each. Reads x, y, dout; writes dx, dy.
    cases.push_back({"row_combine_backward", "diffusion", "x [2048, 60], dx, dy, da, dc", 6 * n,
                     5 * x_bytes + 4 * row_bytes,
                     [=, &backend] { backend.row_combine_backward(a, x0, c, noise, dout, dx, dy, da, dc); }});
    cases.push_back({"row_combine_backward", "diffusion", "x [2048, 60], dx only", n, 3 * x_bytes + row_bytes,
                     [=, &backend] {
                         backend.row_combine_backward(a, x0, c, noise, dout, dx, Tensor{}, Tensor{}, Tensor{});
                     }});
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 0.2;
    int threads = 0;
    std::string filter;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
        else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
        else if (flag == "--filter") filter = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: bench_ops [--seconds S] [--threads N] [--filter SUBSTRING]\n");
            return 2;
        }
    }
    try {
        CpuBackend backend(threads);
        Arena arena(backend);
        std::vector<Case> cases;
        lenet5_cases(cases, backend, arena);
        transformer_cases(cases, backend, arena);
        diffusion_cases(cases, backend, arena);

        std::printf("{\"backend\": \"cpu\", \"description\": \"%s\", \"seconds_per_case\": %g, \"ops\": [",
                    backend.description().c_str(), seconds);
        bool first = true;
        for (const Case& c : cases) {
            if (!filter.empty() && (c.op + " " + c.model + " " + c.shape).find(filter) == std::string::npos)
                continue;
            const double ms = median_ms(c.run, seconds);
            std::printf("%s\n  {\"op\": \"%s\", \"model\": \"%s\", \"shape\": \"%s\", \"ms\": %.5f",
                        first ? "" : ",", c.op.c_str(), c.model.c_str(), c.shape.c_str(), ms);
            if (c.flops > 0) std::printf(", \"gflop_per_s\": %.2f", c.flops / (ms * 1e6));
            if (c.bytes > 0) std::printf(", \"gb_per_s\": %.2f", c.bytes / (ms * 1e6));
            std::printf("}");
            std::fflush(stdout);
            first = false;
        }
        std::printf("\n]}\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_ops: %s\n", e.what());
        return 1;
    }
    return 0;
}
