// Every LeNet-5 op of the CPU backend:
// - forward (float, through the Backend interface, outputs poisoned with NaN first) against a
//   naive double-precision reference written independently here;
// - backward by finite differences in double precision on the same templated code (engine/cpu),
//   for the scalar L = sum(y * r) with a random upstream gradient r;
// - shape mistakes rejected before any memory is touched.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/buffer.hpp"
#include "engine/cpu/ops.hpp"
#include "engine/cpu_backend.hpp"
#include "tests/backend_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {


// ---- naive references ----
std::vector<double> conv2d_reference(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& b, const Conv2dDims& d) {
    std::vector<double> y(d.batch * d.out_channels * d.pixels());
    for (int64_t n = 0; n < d.batch; ++n)
        for (int64_t o = 0; o < d.out_channels; ++o)
            for (int64_t oh = 0; oh < d.out_height(); ++oh)
                for (int64_t ow = 0; ow < d.out_width(); ++ow) {
                    double sum = b[o];
                    for (int64_t c = 0; c < d.in_channels; ++c)
                        for (int64_t kh = 0; kh < d.kernel; ++kh)
                            for (int64_t kw = 0; kw < d.kernel; ++kw) {
                                const int64_t ih = oh + kh - d.padding, iw = ow + kw - d.padding;
                                if (ih < 0 || ih >= d.height || iw < 0 || iw >= d.width) continue;
                                sum += w[((o * d.in_channels + c) * d.kernel + kh) * d.kernel + kw] *
                                       x[((n * d.in_channels + c) * d.height + ih) * d.width + iw];
                            }
                    y[((n * d.out_channels + o) * d.out_height() + oh) * d.out_width() + ow] = sum;
                }
    return y;
}

const std::vector<Conv2dDims> kConvShapes = {
    // batch, in_channels, height, width, out_channels, kernel, padding
    {1, 1, 28, 28, 6, 5, 2},   // LeNet-5 conv1
    {3, 6, 14, 14, 16, 5, 0},  // LeNet-5 conv2
    {2, 3, 7, 9, 4, 3, 1},     // odd, non-square image
    {33, 2, 6, 5, 3, 3, 1},    // a batch that does not split evenly into the gradient chunks
    {2, 2, 3, 3, 2, 5, 2},     // kernel larger than the image, padding makes it fit
    {1, 1, 1, 1, 2, 1, 0},
    // The CPU backward's weight gradient vectorized over 16 output channels (one block, two):
    {2, 2, 5, 5, 16, 3, 1},
    {1, 4, 4, 4, 32, 3, 1},
};

}  // namespace

TEST_CASE("conv2d forward matches a direct convolution", "[ops][conv2d]") {
    for (const Conv2dDims& d : kConvShapes)
    for (const Activation activation : {Activation::kNone, Activation::kRelu})
    for (const Pass pass : {Pass::kTraining, Pass::kInference}) {
        CAPTURE(d.batch, d.in_channels, d.height, d.width, d.out_channels, d.kernel, d.padding,
                activation == Activation::kRelu, pass == Pass::kTraining);
        const auto x = random_vector<double>(d.batch * d.in_channels * d.height * d.width, 1);
        const auto w = random_vector<double>(d.out_channels * d.patch(), 2);
        const auto b = random_vector<double>(d.out_channels, 3);
        const Shape xs{d.batch, d.in_channels, d.height, d.width};
        const Shape ws{d.out_channels, d.in_channels, d.kernel, d.kernel};
        const Shape ys{d.batch, d.out_channels, d.out_height(), d.out_width()};
        Buffer<float> xb = to_backend(as_float(x)), wb = to_backend(as_float(w)),
                      bb = to_backend(as_float(b)), yb = poisoned<float>(ys.numel());
        Buffer<float> work(backend(), backend().conv2d_workspace_floats(xs, ws, int(d.padding)));
        backend().conv2d_forward(xb.view(xs), wb.view(ws), bb.view({d.out_channels}), yb.view(ys),
                                 int(d.padding), activation, pass, work.view());
        std::vector<double> expected = conv2d_reference(x, w, b, d);
        if (activation == Activation::kRelu)
            for (double& v : expected) v = std::max(v, 0.0);
        require_close(yb.download(), expected, {1e-5, 1e-5});
    }
}

TEST_CASE("conv2d backward matches finite differences", "[ops][conv2d][gradient]") {
    for (const Conv2dDims& d : kConvShapes) {
        if (d.batch * d.in_channels * d.height * d.width > 600) continue;  // keep it quick
        CAPTURE(d.batch, d.in_channels, d.height, d.width, d.out_channels, d.kernel, d.padding);
        auto x = random_vector<double>(d.batch * d.in_channels * d.height * d.width, 4);
        auto w = random_vector<double>(d.out_channels * d.patch(), 5);
        auto b = random_vector<double>(d.out_channels, 6);
        const auto r = random_vector<double>(d.batch * d.out_channels * d.pixels(), 7);
        std::vector<double> y(r.size()), work(cpu::conv2d_workspace_size(d));
        const auto loss = [&] {
            cpu::conv2d_forward(x.data(), w.data(), b.data(), y.data(), d, false, work.data());
            return dot(y, r);
        };
        loss();
        std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
        cpu::conv2d_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), d, work.data());
        require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-8});
        require_close(dw, numeric_gradient(w, loss), {1e-6, 1e-8});
        require_close(db, numeric_gradient(b, loss), {1e-6, 1e-8});
    }
}

TEST_CASE("conv2d backward through the backend equals the double reference in float",
          "[ops][conv2d]") {
    const Conv2dDims d{5, 6, 14, 14, 16, 5, 0};
    const auto x = random_vector<double>(d.batch * d.in_channels * d.height * d.width, 8);
    const auto w = random_vector<double>(d.out_channels * d.patch(), 9);
    const auto b = random_vector<double>(d.out_channels, 10);
    const auto dy = random_vector<double>(d.batch * d.out_channels * d.pixels(), 11);
    std::vector<double> y(dy.size()), work(cpu::conv2d_workspace_size(d)), dx(x.size()),
        dw(w.size()), db(b.size());
    cpu::conv2d_forward(x.data(), w.data(), b.data(), y.data(), d, false, work.data());
    cpu::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), d, work.data());

    const Shape xs{d.batch, d.in_channels, d.height, d.width}, ws{d.out_channels, d.in_channels, 5, 5};
    const Shape ys{d.batch, d.out_channels, d.out_height(), d.out_width()};
    Buffer<float> xb = to_backend(as_float(x)), wb = to_backend(as_float(w)),
                  bb = to_backend(as_float(b)), dyb = to_backend(as_float(dy));
    Buffer<float> yb = poisoned<float>(ys.numel()), dxb = poisoned<float>(xs.numel()),
                  dwb = poisoned<float>(ws.numel()), dbb = poisoned<float>(16);
    Buffer<float> wk(backend(), backend().conv2d_workspace_floats(xs, ws, 0));
    backend().conv2d_forward(xb.view(xs), wb.view(ws), bb.view({16}), yb.view(ys), 0, Activation::kNone,
                             Pass::kTraining, wk.view());
    backend().conv2d_backward(xb.view(xs), wb.view(ws), dyb.view(ys), dxb.view(xs), dwb.view(ws),
                              dbb.view({16}), 0, wk.view());
    require_close(dxb.download(), dx, {1e-4, 1e-5});
    require_close(dwb.download(), dw, {1e-4, 1e-5});
    require_close(dbb.download(), db, {1e-4, 1e-5});
}

TEST_CASE("conv2d rejects mismatched shapes", "[ops][conv2d]") {
    Buffer<float> x(backend(), 2 * 3 * 8 * 8), w(backend(), 4 * 2 * 3 * 3), b(backend(), 4),
        y(backend(), 2 * 4 * 8 * 8), work(backend(), 100000);
    // w has 2 input channels, x has 3.
    REQUIRE_THROWS_WITH(backend().conv2d_forward(x.view({2, 3, 8, 8}), w.view({4, 2, 3, 3}),
                                                 b.view({4}), y.view({2, 4, 8, 8}), 1, Activation::kNone,
                                                 Pass::kTraining, work.view()),
                        Catch::Contains("does not match input"));
    Buffer<float> w3(backend(), 4 * 3 * 3 * 3);
    REQUIRE_THROWS_WITH(backend().conv2d_forward(x.view({2, 3, 8, 8}), w3.view({4, 3, 3, 3}),
                                                 b.view({4}), y.view({2, 4, 7, 7}), 1, Activation::kNone,
                                                 Pass::kTraining, work.view()),
                        Catch::Contains("y has shape"));
    REQUIRE_THROWS_WITH(backend().conv2d_forward(x.view({2, 3, 8, 8}), w3.view({4, 3, 3, 3}),
                                                 b.view({4}), y.view({2, 4, 8, 8}), 1,
                                                 Activation::kNone, Pass::kTraining, work.view({10})),
                        Catch::Contains("workspace"));
}

TEST_CASE("maxpool2 forward keeps the first maximum and backward routes to it", "[ops][maxpool2]") {
    // One 2x4 plane: windows {1, 3, 3, 2} and {5, 5, 0, 5}: ties go to the first position.
    const std::vector<float> x = {1, 3, 5, 5, 3, 2, 0, 5};
    Buffer<float> xb = to_backend(x), yb = poisoned<float>(2), dyb = to_backend(std::vector<float>{10, 20});
    Buffer<int32_t> arg = poisoned<int32_t>(2);
    Buffer<float> dxb = poisoned<float>(8);
    backend().maxpool2_forward(xb.view({1, 1, 2, 4}), yb.view({1, 1, 1, 2}), arg.view({1, 1, 1, 2}));
    REQUIRE(yb.download() == std::vector<float>{3, 5});
    REQUIRE(arg.download() == std::vector<int32_t>{1, 0});
    backend().maxpool2_backward(dyb.view({1, 1, 1, 2}), arg.view({1, 1, 1, 2}), dxb.view({1, 1, 2, 4}));
    REQUIRE(dxb.download() == std::vector<float>{0, 10, 20, 0, 0, 0, 0, 0});
}

TEST_CASE("maxpool2 matches a reference and finite differences", "[ops][maxpool2][gradient]") {
    for (const auto& [planes, h, w] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 2, 2}, {6, 28, 28}, {5, 10, 6}, {3, 4, 10}}) {
        CAPTURE(planes, h, w);
        auto x = random_vector<double>(planes * h * w, 12);
        std::vector<double> expected(planes * (h / 2) * (w / 2));
        for (int64_t p = 0; p < planes; ++p)
            for (int64_t i = 0; i < h / 2; ++i)
                for (int64_t j = 0; j < w / 2; ++j) {
                    const double* at = &x[p * h * w + 2 * i * w + 2 * j];
                    expected[(p * (h / 2) + i) * (w / 2) + j] =
                        std::max({at[0], at[1], at[w], at[w + 1]});
                }
        Buffer<float> xb = to_backend(as_float(x)), yb = poisoned<float>(int64_t(expected.size()));
        Buffer<int32_t> arg = poisoned<int32_t>(int64_t(expected.size()));
        backend().maxpool2_forward(xb.view({planes, 1, h, w}), yb.view({planes, 1, h / 2, w / 2}),
                                   arg.view({planes, 1, h / 2, w / 2}));
        require_close(yb.download(), expected, {0, 1e-7});

        const auto r = random_vector<double>(expected.size(), 13);
        std::vector<double> y(expected.size()), dx(x.size());
        std::vector<int32_t> argmax(expected.size());
        const auto loss = [&] {
            cpu::maxpool2_forward(x.data(), y.data(), argmax.data(), planes, h, w);
            return dot(y, r);
        };
        loss();
        cpu::maxpool2_backward(r.data(), argmax.data(), dx.data(), planes, h, w);
        require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-8});
    }
}

TEST_CASE("maxpool2's vector rows keep the scalar rule on ties and NaNs, at every row length",
          "[ops][maxpool2]") {
    // Values from {0, 1, 2} make ties common; a few NaNs test "the first NaN wins". Rows of 1 to 20
    // outputs cover the 8- and 16-lane vectors, rows longer than one vector, and the scalar rows
    // at the tensor's end.
    for (int64_t w = 2; w <= 40; w += 2)
        for (const int64_t h : {2, 4}) {
            CAPTURE(w, h);
            const int64_t planes = 3, outputs = planes * (h / 2) * (w / 2);
            std::vector<double> x(planes * h * w);
            uint64_t state = uint64_t(w * 131 + h);
            for (double& v : x) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                const uint64_t draw = state >> 33;
                v = draw % 23 == 0 ? std::nan("") : double(draw % 3);
            }
            std::vector<double> y(outputs), expected(outputs);
            std::vector<int32_t> arg(outputs), expected_arg(outputs);
            for (int64_t p = 0; p < planes; ++p)
                for (int64_t i = 0; i < h / 2; ++i)
                    for (int64_t j = 0; j < w / 2; ++j) {
                        const double* at = &x[p * h * w + 2 * i * w + 2 * j];
                        const double window[4] = {at[0], at[1], at[w], at[w + 1]};
                        int32_t best = 0;
                        for (int32_t k = 1; k < 4; ++k) {
                            if (std::isnan(window[best])) break;
                            if (std::isnan(window[k]) || window[k] > window[best]) best = k;
                        }
                        const int64_t o = (p * (h / 2) + i) * (w / 2) + j;
                        expected[o] = window[best];
                        expected_arg[o] = best;
                    }
            cpu::maxpool2_forward(x.data(), y.data(), arg.data(), planes, h, w);
            REQUIRE(arg == expected_arg);
            for (int64_t o = 0; o < outputs; ++o)
                REQUIRE((y[o] == expected[o] || (std::isnan(y[o]) && std::isnan(expected[o]))));

            std::vector<double> dy(outputs), dx(x.size(), -1.0), expected_dx(x.size(), 0.0);
            for (int64_t o = 0; o < outputs; ++o) dy[o] = double(o + 1);
            for (int64_t p = 0; p < planes; ++p)
                for (int64_t i = 0; i < h / 2; ++i)
                    for (int64_t j = 0; j < w / 2; ++j) {
                        const int64_t o = (p * (h / 2) + i) * (w / 2) + j, a = expected_arg[o];
                        expected_dx[p * h * w + (2 * i + a / 2) * w + 2 * j + a % 2] = dy[o];
                    }
            cpu::maxpool2_backward(dy.data(), arg.data(), dx.data(), planes, h, w);
            REQUIRE(dx == expected_dx);
        }
}

TEST_CASE("relu forward, backward and finite differences", "[ops][relu][gradient]") {
    auto x = random_vector<double>(1001, 14);
    for (double& v : x)
        if (std::abs(v) < 1e-3) v = 0.5;  // away from the kink, where the derivative is undefined
    Buffer<float> xb = to_backend(as_float(x)), yb = poisoned<float>(1001);
    backend().relu_forward(xb.view(), yb.view());
    std::vector<double> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i) expected[i] = std::max(x[i], 0.0);
    require_close(yb.download(), expected, {0, 1e-7});

    const auto r = random_vector<double>(x.size(), 15);
    std::vector<double> y(x.size()), dx(x.size());
    const auto loss = [&] {
        cpu::relu_forward(x.data(), y.data(), int64_t(x.size()));
        return dot(y, r);
    };
    loss();
    cpu::relu_backward(y.data(), r.data(), dx.data(), int64_t(x.size()));
    require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-8});
}

TEST_CASE("linear forward matches a reference, backward finite differences", "[ops][linear][gradient]") {
    for (const auto& [batch, in, out] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 1, 1}, {32, 400, 120}, {7, 13, 5}, {3, 84, 10}}) {
        CAPTURE(batch, in, out);
        auto x = random_vector<double>(batch * in, 16);
        auto w = random_vector<double>(out * in, 17);
        auto b = random_vector<double>(out, 18);
        std::vector<double> expected(batch * out);
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t o = 0; o < out; ++o) {
                double sum = b[o];
                for (int64_t i = 0; i < in; ++i) sum += x[n * in + i] * w[o * in + i];
                expected[n * out + o] = sum;
            }
        Buffer<float> xb = to_backend(as_float(x)), wb = to_backend(as_float(w)),
                      bb = to_backend(as_float(b)), yb = poisoned<float>(batch * out);
        backend().linear_forward(xb.view({batch, in}), wb.view({out, in}), bb.view({out}),
                                 yb.view({batch, out}), Activation::kNone);
        require_close(yb.download(), expected, {1e-5, 1e-5});
        yb = poisoned<float>(batch * out);
        backend().linear_forward(xb.view({batch, in}), wb.view({out, in}), bb.view({out}),
                                 yb.view({batch, out}), Activation::kRelu);
        for (double& v : expected) v = std::max(v, 0.0);
        require_close(yb.download(), expected, {1e-5, 1e-5});

        if (in * out > 2000) continue;  // the finite differences below are O(size^2)
        const auto r = random_vector<double>(batch * out, 19);
        std::vector<double> y(batch * out), dx(x.size()), dw(w.size()), db(b.size());
        const auto loss = [&] {
            cpu::linear_forward(x.data(), w.data(), b.data(), y.data(), batch, in, out);
            return dot(y, r);
        };
        cpu::linear_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), batch,
                             in, out);
        require_close(dx, numeric_gradient(x, loss), {1e-6, 1e-8});
        require_close(dw, numeric_gradient(w, loss), {1e-6, 1e-8});
        require_close(db, numeric_gradient(b, loss), {1e-6, 1e-8});
    }
}

TEST_CASE("softmax cross-entropy: values, hits, gradient of the mean", "[ops][softmax][gradient]") {
    const int64_t batch = 6, classes = 10;
    auto logits = random_vector<double>(batch * classes, 20, 4.0);
    logits[3] = 80.0;  // a large logit must not overflow the exponentials
    const std::vector<int32_t> labels = {0, 3, 9, 4, 4, 1};
    std::vector<double> expected(batch);
    std::vector<int32_t> expected_hits(batch);
    for (int64_t n = 0; n < batch; ++n) {
        const double* row = &logits[n * classes];
        const double top = *std::max_element(row, row + classes);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(row[k] - top);
        expected[n] = std::log(sum) + top - row[labels[n]];
        expected_hits[n] = int32_t(std::max_element(row, row + classes) - row) == labels[n];
    }
    Buffer<float> lb = to_backend(as_float(logits)), losses = poisoned<float>(batch);
    Buffer<int32_t> yb = to_backend(labels), hits = poisoned<int32_t>(batch);
    backend().softmax_cross_entropy_forward(lb.view({batch, classes}), yb.view(), losses.view(),
                                            hits.view());
    require_close(losses.download(), expected, {1e-5, 1e-5});
    REQUIRE(hits.download() == expected_hits);

    std::vector<double> per_row(batch), grad(logits.size());
    std::vector<int32_t> correct(batch);
    const auto mean_loss = [&] {
        cpu::softmax_cross_entropy_forward(logits.data(), labels.data(), per_row.data(),
                                           correct.data(), batch, classes);
        double sum = 0;
        for (double v : per_row) sum += v;
        return sum / double(batch);
    };
    cpu::softmax_cross_entropy_backward(logits.data(), labels.data(), grad.data(), batch, classes);
    require_close(grad, numeric_gradient(logits, mean_loss), {1e-6, 1e-8});

    Buffer<int32_t> bad = to_backend(std::vector<int32_t>{0, 3, 10, 4, 4, 1});
    REQUIRE_THROWS_WITH(backend().softmax_cross_entropy_forward(lb.view({batch, classes}), bad.view(),
                                                                losses.view(), hits.view()),
                        Catch::Contains("label 10"));
}

TEST_CASE("gather copies the rows named by an index list", "[ops][gather]") {
    const std::vector<float> src = {0, 1, 10, 11, 20, 21, 30, 31};
    const std::vector<int32_t> labels = {5, 6, 7, 8};
    Buffer<float> sb = to_backend(src), db = poisoned<float>(6);
    Buffer<int32_t> lb = to_backend(labels), rows = to_backend(std::vector<int32_t>{3, 0, 3}),
                    out = poisoned<int32_t>(3);
    backend().gather_rows(sb.view({4, 2}), rows.view(), db.view({3, 2}));
    backend().gather_labels(lb.view(), rows.view(), out.view());
    REQUIRE(db.download() == std::vector<float>{30, 31, 0, 1, 30, 31});
    REQUIRE(out.download() == std::vector<int32_t>{8, 5, 8});
    Buffer<int32_t> bad = to_backend(std::vector<int32_t>{4});
    REQUIRE_THROWS_WITH(backend().gather_rows(sb.view({4, 2}), bad.view(), db.view({1, 2})),
                        Catch::Contains("outside"));
}
