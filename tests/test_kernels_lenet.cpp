// The CUDA kernels LeNet-5's base training needs (kernels/conv2d, maxpool2, relu, bias,
// softmax_cross_entropy, sgd, gather, fill, reduce_sum), each against the CPU backend, the
// reference. The same file runs emulated on the CPU (twp_kernel_tests) and natively on a GPU
// (twp_kernel_tests_gpu): memory comes from GuardedArray (tests/kernel_check.hpp: guards before
// and after every array, checked at every download, so that a write past either end fails),
// outputs are poisoned on the device (NaN, or -7 for indices) before every launch so that an
// element a kernel forgets to write fails.
//
// Tolerances: what must be exact is compared bit for bit (maxpool, ReLU, gathers, argmax and
// correct flags, the bias add, SGD, integer sums). A float sum whose order differs from the CPU's
// is compared with |a - e| <= 1e-5 * (1 + |e| + s), where s = sqrt(sum of the squared terms) is
// the size of the terms being summed: rounding errors scale with the partial sums, not with the
// result, which can cancel to near zero (a dw entry of conv1 at batch 1000 sums 784,000 products
// whose partial sums reach hundreds). s comes from the CPU backend run on the squared inputs.
// Measured: the worst error is 0.15 of this tolerance; a missing or doubled term exceeds it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "kernels/bias.cuh"
#include "kernels/conv2d.cuh"
#include "kernels/device_memory.hpp"
#include "kernels/fill.cuh"
#include "kernels/gather.cuh"
#include "kernels/maxpool2.cuh"
#include "kernels/reduce_sum.cuh"
#include "kernels/relu.cuh"
#include "kernels/sgd.cuh"
#include "kernels/softmax_cross_entropy.cuh"
#include "tests/check.hpp"
#include "tests/kernel_check.hpp"

using namespace twp;
using namespace twp::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kRtol = 1e-5;

// The tolerance of a float sum whose order differs from the CPU's (see the top of the file):
// |a - e| <= 1e-5 * (1 + |e| + scale[i]), scale[i] the size of the terms summed into element i.
Tolerance summed(std::vector<float> scale) {
    return Tolerance(kRtol, kRtol).with_scale(std::move(scale));
}

std::vector<float> squared(std::vector<float> v) {
    for (float& x : v) x *= x;
    return v;
}
std::vector<float> square_root(std::vector<float> v) {
    for (float& x : v) x = std::sqrt(x);
    return v;
}

// Random labels in 0..classes-1.
std::vector<int32_t> random_labels(int64_t count, int64_t classes, uint64_t seed) {
    Rng rng(seed, RngStream::kShuffle);
    std::vector<int32_t> labels(as_size(count));
    for (int32_t& label : labels) label = int32_t(rng.below(uint32_t(classes)));
    return labels;
}

// ---- conv2d ----
struct ConvCase {
    int64_t batch, in_channels, height, width, out_channels, kernel, padding;
    Shape x() const { return {batch, in_channels, height, width}; }
    Shape w() const { return {out_channels, in_channels, kernel, kernel}; }
    Shape y() const {
        return {batch, out_channels, height + 2 * padding - kernel + 1,
                width + 2 * padding - kernel + 1};
    }
};

std::vector<ConvCase> conv_cases() {
    std::vector<ConvCase> cases;
    for (int64_t batch : {1, 32, 1000}) {
        cases.push_back({batch, 1, 28, 28, 6, 5, 2});   // LeNet-5 conv1
        cases.push_back({batch, 6, 14, 14, 16, 5, 0});  // LeNet-5 conv2
    }
    cases.push_back({3, 3, 7, 9, 5, 3, 1});     // odd, non-square image; uneven channel groups
    cases.push_back({5, 2, 3, 3, 2, 5, 2});     // kernel larger than the image, padding fits it
    cases.push_back({7, 1, 1, 1, 3, 1, 0});     // 1x1 everything
    cases.push_back({9, 12, 8, 8, 7, 5, 2});    // 300 filter entries: two entry groups in dw
    cases.push_back({6, 20, 6, 5, 9, 3, 1});    // 180 entries: one slice, partly idle threads
    cases.push_back({6, 8, 24, 24, 3, 5, 2});   // 27 KiB per image: dw stages one image at a time
    return cases;
}

// The CPU backend's forward and backward for one case (x, w, b, dy given), plus the scales of
// every sum (the same ops on the squared inputs).
struct ConvReference {
    std::vector<float> y, dx, dw, db;
};
ConvReference cpu_conv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, const std::vector<float>& dy,
                       Activation activation) {
    ConvReference r;
    std::vector<float> xs = x, ws = w, bs = b, dys = dy;
    std::vector<float> work(as_size(cpu().conv2d_workspace_floats(c.x(), c.w(), int(c.padding))));
    r.y.resize(as_size(c.y().numel()));
    r.dx.resize(x.size());
    r.dw.resize(w.size());
    r.db.resize(b.size());
    cpu().conv2d_forward(view(xs, c.x()), view(ws, c.w()), view(bs, {c.out_channels}),
                         view(r.y, c.y()), int(c.padding), activation, Pass::kTraining,
                         view(work, {int64_t(work.size())}));
    cpu().conv2d_backward(view(xs, c.x()), view(ws, c.w()), view(dys, c.y()), view(r.dx, c.x()),
                          view(r.dw, c.w()), view(r.db, {c.out_channels}), int(c.padding),
                          view(work, {int64_t(work.size())}));
    return r;
}

ConvReference conv_scales(const ConvCase& c, const std::vector<float>& x,
                          const std::vector<float>& w, const std::vector<float>& b,
                          const std::vector<float>& dy) {
    ConvReference r = cpu_conv(c, squared(x), squared(w), squared(b), squared(dy), Activation::kNone);
    return {square_root(r.y), square_root(r.dx), square_root(r.dw), square_root(r.db)};
}

std::string describe(const ConvCase& c) {
    std::ostringstream text;
    text << "x " << c.x().str() << ", w " << c.w().str() << ", padding " << c.padding;
    return text.str();
}

}  // namespace

TEST_CASE("conv2d_forward kernel matches the CPU backend", "[kernels][lenet][conv2d]") {
    uint64_t seed = 100;
    for (const ConvCase& c : conv_cases())
        for (const Activation activation : {Activation::kNone, Activation::kRelu}) {
            INFO(describe(c) << (activation == Activation::kRelu ? ", ReLU" : ""));
            const auto x = random_vector<float>(as_size(c.x().numel()), ++seed);
            const auto w = random_vector<float>(as_size(c.w().numel()), ++seed);
            const auto b = random_vector<float>(as_size(c.out_channels), ++seed);
            const std::vector<float> dy(as_size(c.y().numel()), 0.0f);
            const ConvReference expected = cpu_conv(c, x, w, b, dy, activation);
            const ConvReference scale = conv_scales(c, x, w, b, dy);

            GuardedArray<float> xd = on_device(x), wd = on_device(w), bd = on_device(b);
            GuardedArray<float> yd = poisoned_floats(c.y().numel());
            kernels::conv2d_forward(view(xd, c.x()), view(wd, c.w()), view(bd, {c.out_channels}),
                                    view(yd, c.y()), int(c.padding), activation, nullptr);
            require_close(download(yd), expected.y, summed(scale.y));
        }
}

TEST_CASE("conv2d_backward kernel matches the CPU backend and is deterministic",
          "[kernels][lenet][conv2d]") {
    uint64_t seed = 200;
    for (const ConvCase& c : conv_cases()) {
        INFO(describe(c));
        const auto x = random_vector<float>(as_size(c.x().numel()), ++seed);
        const auto w = random_vector<float>(as_size(c.w().numel()), ++seed);
        const auto b = random_vector<float>(as_size(c.out_channels), ++seed);
        const auto dy = random_vector<float>(as_size(c.y().numel()), ++seed);
        const ConvReference expected = cpu_conv(c, x, w, b, dy, Activation::kNone);
        const ConvReference scale = conv_scales(c, x, w, b, dy);

        GuardedArray<float> xd = on_device(x), wd = on_device(w), dyd = on_device(dy);
        GuardedArray<float> dxd = poisoned_floats(c.x().numel()), dwd = poisoned_floats(c.w().numel()),
                             dbd = poisoned_floats(c.out_channels);
        // The workspace is poisoned too: every partial the kernels read must have been written.
        GuardedArray<float> work =
              poisoned_floats(kernels::conv2d_backward_workspace_floats(c.x(), c.w(), int(c.padding)));
        const auto run = [&](bool with_dx) {
            poison(dxd);
            poison(dwd);
            poison(dbd);
            poison(work);
            kernels::conv2d_backward(view(xd, c.x()), view(wd, c.w()), view(dyd, c.y()),
                                     with_dx ? view(dxd, c.x()) : Tensor{}, view(dwd, c.w()),
                                     view(dbd, {c.out_channels}), int(c.padding),
                                     view(work, {work.count()}), nullptr);
        };
        run(true);
        const std::vector<float> dx = download(dxd), dw = download(dwd), db = download(dbd);
        require_close(dx, expected.dx, summed(scale.dx), "dx");
        require_close(dw, expected.dw, summed(scale.dw), "dw");
        require_close(db, expected.db, summed(scale.db), "db");
        // Again, without dx: the same bits for dw and db, and dx left alone (still poisoned).
        run(false);
        require_same_bits(download(dwd), dw);
        require_same_bits(download(dbd), db);
        const std::vector<float> untouched = download(dxd);
        const auto is_nan = [](float v) { return std::isnan(v); };
        CHECK(std::all_of(untouched.begin(), untouched.end(), is_nan));
    }
}

TEST_CASE("conv2d kernels reject wrong shapes before launching", "[kernels][lenet][conv2d]") {
    GuardedArray<float> buffer(20000);
    const Tensor x = view(buffer, {2, 6, 14, 14}), w = view(buffer, {16, 6, 5, 5});
    const Tensor b = view(buffer, {16}), y = view(buffer, {2, 16, 10, 10});
    CHECK_THROWS_AS(kernels::conv2d_forward(x, w, b, view(buffer, {2, 16, 10, 9}), 0,
                                            Activation::kNone, nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::conv2d_forward(x, view(buffer, {16, 5, 5, 5}), b, y, 0,
                                            Activation::kNone, nullptr),
                    Error);
    const int64_t needed = kernels::conv2d_backward_workspace_floats(x.shape, w.shape, 0);
    CHECK_THROWS_AS(kernels::conv2d_backward(x, w, y, x, w, b, 0, view(buffer, {needed - 1}),
                                             nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::conv2d_backward(x, w, y, view(buffer, {2, 6, 14, 13}), w, b, 0,
                                             view(buffer, {needed}), nullptr),
                    Error);
    // A plane too large to stage in shared memory is refused, not run out of bounds.
    GuardedArray<float> large(3 * 128 * 128);
    CHECK_THROWS_AS(kernels::conv2d_forward(view(large, {1, 3, 128, 128}), view(buffer, {2, 3, 3, 3}),
                                            view(buffer, {2}), view(large, {1, 2, 126, 126}), 0,
                                            Activation::kNone, nullptr),
                    Error);
}

TEST_CASE("maxpool2 kernels match the CPU backend bit for bit", "[kernels][lenet][maxpool2]") {
    const std::vector<Shape> shapes = {{1, 6, 28, 28},    {32, 6, 28, 28}, {1000, 6, 28, 28},
                                       {1000, 16, 10, 10}, {32, 16, 10, 10}, {3, 5, 2, 2},
                                       {2, 3, 6, 4},       {7, 1, 18, 34}};
    uint64_t seed = 300;
    for (const Shape& xs : shapes)
        for (const bool special : {false, true}) {
            INFO("x " << xs.str() << (special ? ", with ties, NaN and infinities" : ""));
            const Shape ys{xs[0], xs[1], xs[2] / 2, xs[3] / 2};
            auto x = random_vector<float>(as_size(xs.numel()), ++seed);
            if (special) {
                // Values on a coarse grid tie often (the first maximum must win); a few NaNs
                // (the first one must win and propagate) and infinities.
                for (size_t i = 0; i < x.size(); ++i) {
                    x[i] = std::round(x[i] * 2.0f) / 2.0f;
                    if (i % 37 == 5) x[i] = kNaN;
                    if (i % 53 == 7) x[i] = kInf;
                    if (i % 59 == 3) x[i] = -kInf;
                }
            }
            const auto dy = random_vector<float>(as_size(ys.numel()), ++seed);
            std::vector<float> y(as_size(ys.numel())), dx(x.size());
            std::vector<int32_t> argmax(y.size());
            std::vector<float> xc = x, dyc = dy;
            cpu().maxpool2_forward(view(xc, xs), view(y, ys), view(argmax, ys));
            cpu().maxpool2_backward(view(dyc, ys), view(argmax, ys), view(dx, xs));

            GuardedArray<float> xd = on_device(x), yd = poisoned_floats(ys.numel());
            GuardedArray<int32_t> argd = poisoned_indices(ys.numel());
            kernels::maxpool2_forward(view(xd, xs), view(yd, ys), view(argd, ys), nullptr);
            require_same_bits(download(yd), y);
            require_same_bits(download(argd), argmax);

            GuardedArray<float> dyd = on_device(dy), dxd = poisoned_floats(xs.numel());
            kernels::maxpool2_backward(view(dyd, ys), view(argd, ys), view(dxd, xs), nullptr);
            require_same_bits(download(dxd), dx);
        }
    GuardedArray<float> buffer(1000);
    GuardedArray<int32_t> indices(1000);
    CHECK_THROWS_AS(kernels::maxpool2_forward(view(buffer, {1, 1, 5, 4}), view(buffer, {1, 1, 2, 2}),
                                              view(indices, {1, 1, 2, 2}), nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::maxpool2_backward(view(buffer, {1, 1, 2, 2}),
                                               view(indices, {1, 1, 2, 3}),
                                               view(buffer, {1, 1, 4, 4}), nullptr),
                    Error);
}

TEST_CASE("relu kernels match the CPU backend bit for bit", "[kernels][lenet][relu]") {
    uint64_t seed = 400;
    for (const int64_t count : {1, 255, 257, 1000 * 120, 1000 * 6 * 28 * 28}) {
        INFO("count " << count);
        auto x = random_vector<float>(as_size(count), ++seed);
        x[0] = kNaN;  // kept by the forward
        if (count > 3) x[3] = 0.0f;
        const auto dy = random_vector<float>(as_size(count), ++seed);
        std::vector<float> y(x.size()), dx(x.size()), xc = x, dyc = dy;
        cpu().relu_forward(view(xc, {count}), view(y, {count}));
        cpu().relu_backward(view(y, {count}), view(dyc, {count}), view(dx, {count}));

        GuardedArray<float> xd = on_device(x), yd = poisoned_floats(count);
        kernels::relu_forward(view(xd, {count}), view(yd, {count}), nullptr);
        require_same_bits(download(yd), y);
        GuardedArray<float> dyd = on_device(dy), dxd = poisoned_floats(count);
        kernels::relu_backward(view(yd, {count}), view(dyd, {count}), view(dxd, {count}), nullptr);
        require_same_bits(download(dxd), dx);

        // In place, as the models call them: y over x, dx over dy.
        kernels::relu_forward(view(xd, {count}), view(xd, {count}), nullptr);
        require_same_bits(download(xd), y);
        kernels::relu_backward(view(yd, {count}), view(dyd, {count}), view(dyd, {count}), nullptr);
        require_same_bits(download(dyd), dx);
    }
    GuardedArray<float> buffer(10);
    CHECK_THROWS_AS(kernels::relu_forward(view(buffer, {10}), view(buffer, {9}), nullptr), Error);
    CHECK_THROWS_AS(kernels::relu_backward(view(buffer, {10}), view(buffer, {10}), view(buffer, {5}),
                                           nullptr),
                    Error);
}

TEST_CASE("bias kernels match the CPU backend", "[kernels][lenet][bias]") {
    struct Case { int64_t rows, columns; };
    uint64_t seed = 500;
    for (const Case c : {Case{1, 120}, Case{32, 120}, Case{32, 84}, Case{1000, 84}, Case{1000, 10},
                         Case{37, 10}, Case{5, 1}, Case{3, 70}, Case{257, 33}})
        for (const Activation activation : {Activation::kNone, Activation::kRelu}) {
            INFO("y [" << c.rows << ", " << c.columns << "]"
                       << (activation == Activation::kRelu ? ", ReLU" : ""));
            const Shape ys{c.rows, c.columns}, bs{c.columns};
            auto y = random_vector<float>(as_size(ys.numel()), ++seed);
            auto b = random_vector<float>(as_size(c.columns), ++seed);
            // The CPU backend's linear layer adds the bias and then applies the ReLU.
            std::vector<float> expected(y.size());
            cpu().add_row_broadcast(view(y, ys), view(b, bs), view(expected, ys));
            if (activation == Activation::kRelu)
                cpu().relu_forward(view(expected, ys), view(expected, ys));
            GuardedArray<float> yd = on_device(y), bd = on_device(b);
            kernels::bias_activation(view(yd, ys), view(bd, bs), activation, nullptr);
            require_same_bits(download(yd), expected);
        }
    for (const Case c : {Case{1, 120}, Case{32, 120}, Case{1000, 84}, Case{1000, 10}, Case{37, 10},
                         Case{5, 1}, Case{8, 70}, Case{257, 33}}) {
        INFO("dy [" << c.rows << ", " << c.columns << "]");
        const Shape ys{c.rows, c.columns}, bs{c.columns};
        auto dy = random_vector<float>(as_size(ys.numel()), ++seed);
        // The CPU backend's linear_backward sums db over the rows in order; a 1-wide input makes
        // the rest of it trivial.
        std::vector<float> x(as_size(c.rows), 1.0f), w(as_size(c.columns), 1.0f), dw(w.size()),
            db(as_size(c.columns)), dy_squared = squared(dy), scale(db.size()), unused(w.size());
        cpu().linear_backward(view(x, {c.rows, 1}), view(w, {c.columns, 1}), view(dy, ys), Tensor{},
                              view(dw, {c.columns, 1}), view(db, bs));
        cpu().linear_backward(view(x, {c.rows, 1}), view(w, {c.columns, 1}), view(dy_squared, ys),
                              Tensor{}, view(unused, {c.columns, 1}), view(scale, bs));
        GuardedArray<float> dyd = on_device(dy), dbd = poisoned_floats(c.columns);
        kernels::bias_gradient(view(dyd, ys), view(dbd, bs), nullptr);
        const std::vector<float> first = download(dbd);
        require_close(first, db, summed(square_root(scale)));
        poison(dbd);
        kernels::bias_gradient(view(dyd, ys), view(dbd, bs), nullptr);
        require_same_bits(download(dbd), first);
    }
    GuardedArray<float> buffer(100);
    CHECK_THROWS_AS(kernels::bias_activation(view(buffer, {10, 7}), view(buffer, {3}),
                                             Activation::kNone, nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::bias_gradient(view(buffer, {10, 7}), view(buffer, {4}), nullptr), Error);
}

TEST_CASE("softmax_cross_entropy kernels match the CPU backend",
          "[kernels][lenet][softmax_cross_entropy]") {
    struct Case { int64_t batch, classes; };
    uint64_t seed = 600;
    for (const Case c : {Case{1, 10}, Case{32, 10}, Case{1000, 10}, Case{37, 10}, Case{9, 3},
                         Case{17, 33}, Case{5, 100}, Case{3, 1}})
        for (const bool special : {false, true}) {
            INFO("logits [" << c.batch << ", " << c.classes << "]"
                            << (special ? ", with ties, NaN and infinities" : ""));
            const Shape ls{c.batch, c.classes}, bs{c.batch};
            auto logits = random_vector<float>(as_size(ls.numel()), ++seed, 8.0);
            auto labels = random_labels(c.batch, c.classes, ++seed);
            if (special)
                // Coarse values tie (the first maximum must win, in any lane); some rows carry a
                // NaN (in column 0 it is never replaced), +inf or -inf.
                for (int64_t n = 0; n < c.batch; ++n) {
                    float* row = logits.data() + n * c.classes;
                    for (int64_t k = 0; k < c.classes; ++k) row[k] = std::round(row[k] / 4.0f);
                    if (n % 7 == 1) row[(n * 5) % c.classes] = kNaN;
                    if (n % 7 == 2) row[0] = kNaN;
                    if (n % 11 == 3) row[(n * 3) % c.classes] = kInf;
                    if (n % 13 == 4) row[(n * 7) % c.classes] = -kInf;
                }
            std::vector<float> losses(as_size(c.batch)), dlogits(logits.size());
            std::vector<int32_t> correct(as_size(c.batch));
            cpu().softmax_cross_entropy_forward(view(logits, ls), view(labels, bs), view(losses, bs),
                                                view(correct, bs));
            cpu().softmax_cross_entropy_backward(view(logits, ls), view(labels, bs),
                                                 view(dlogits, ls));

            GuardedArray<float> ld = on_device(logits), lossd = poisoned_floats(c.batch);
            GuardedArray<int32_t> labeld = on_device(labels), correctd = poisoned_indices(c.batch);
            kernels::softmax_cross_entropy_forward(view(ld, ls), view(labeld, bs), view(lossd, bs),
                                                   view(correctd, bs), nullptr);
            require_same_bits(download(correctd), correct);
            GuardedArray<float> dld = poisoned_floats(ls.numel());
            kernels::softmax_cross_entropy_backward(view(ld, ls), view(labeld, bs), view(dld, ls),
                                                    nullptr);
            std::vector<float> actual_losses = download(lossd), actual_dlogits = download(dld);
            if (special) {
                // Where the CPU's result is not finite, the kernel's must be the same value
                // (NaN where NaN); the finite ones are compared below.
                const auto split = [](std::vector<float>& actual, std::vector<float>& expected) {
                    for (size_t i = 0; i < expected.size(); ++i)
                        if (!std::isfinite(expected[i])) {
                            INFO("index " << i << ": actual " << actual[i] << ", expected "
                                          << expected[i]);
                            REQUIRE((std::isnan(expected[i]) ? std::isnan(actual[i])
                                                             : actual[i] == expected[i]));
                            actual[i] = expected[i] = 0.0f;
                        }
                };
                split(actual_losses, losses);
                split(actual_dlogits, dlogits);
            }
            // Both sum the exponentials in double and round once: the float results agree to
            // well within 1e-5.
            require_close(actual_losses, losses, {kRtol, kRtol});
            require_close(actual_dlogits, dlogits, {kRtol, kRtol});
        }
}

TEST_CASE("softmax_cross_entropy kernels mark labels out of range",
          "[kernels][lenet][softmax_cross_entropy]") {
    const Shape ls{4, 10}, bs{4};
    GuardedArray<float> logits = on_device(random_vector<float>(40, 650));
    GuardedArray<int32_t> labels = on_device(std::vector<int32_t>{3, -1, 10, 9});
    GuardedArray<float> losses = poisoned_floats(4), dlogits = poisoned_floats(40);
    GuardedArray<int32_t> correct = poisoned_indices(4);
    kernels::softmax_cross_entropy_forward(view(logits, ls), view(labels, bs), view(losses, bs),
                                           view(correct, bs), nullptr);
    kernels::softmax_cross_entropy_backward(view(logits, ls), view(labels, bs), view(dlogits, ls),
                                            nullptr);
    const auto loss = download(losses), grad = download(dlogits);
    const auto hits = download(correct);
    for (int n = 0; n < 4; ++n) {
        INFO("row " << n);
        const bool valid = n == 0 || n == 3;
        CHECK(std::isnan(loss[n]) != valid);
        CHECK((hits[n] == 0 || (valid && hits[n] == 1)));
        for (int k = 0; k < 10; ++k) CHECK(std::isnan(grad[n * 10 + k]) != valid);
    }
    GuardedArray<float> buffer(100);
    CHECK_THROWS_AS(kernels::softmax_cross_entropy_forward(view(buffer, {4, 10}), view(labels, {3}),
                                                           view(losses, {3}), view(correct, {3}),
                                                           nullptr),
                    Error);
    CHECK_THROWS_AS(kernels::softmax_cross_entropy_backward(view(buffer, {4, 10}), view(labels, bs),
                                                            view(buffer, {4, 9}), nullptr),
                    Error);
}

TEST_CASE("sgd_update kernel takes the CPU backend's step bit for bit", "[kernels][lenet][sgd]") {
    const SgdConfig config;  // the reference's lr 0.005, momentum 0.9, weight decay 5e-4
    uint64_t seed = 700;
    for (const int64_t count : {61706, 1, 3, 4, 5, 1001, 300001})
        for (const int64_t offset : {0, 1}) {  // a 16-byte aligned view, and one that is not
            INFO(count << " parameters at offset " << offset);
            auto params = random_vector<float>(as_size(count), ++seed);
            auto momentum = std::vector<float>(as_size(count), 0.0f);
            GuardedArray<float> pd(count + offset), gd(count + offset), md(count + offset);
            const auto at = [&](GuardedArray<float>& a) { return Tensor{a.data() + offset, {count}}; };
            std::vector<float> padded(as_size(count + offset), 0.0f);
            std::copy(params.begin(), params.end(), padded.begin() + offset);
            pd.upload(padded);
            md.upload(std::vector<float>(as_size(count + offset), 0.0f));
            // Three steps, the first from a zero momentum buffer, as training does.
            for (int step = 0; step < 3; ++step) {
                auto grads = random_vector<float>(as_size(count), ++seed, 0.1);
                cpu().sgd_update(view(params, {count}), view(grads, {count}), view(momentum, {count}),
                                 config);
                std::copy(grads.begin(), grads.end(), padded.begin() + offset);
                gd.upload(padded);
                kernels::sgd_update(at(pd), at(gd), at(md), config, nullptr);
            }
            const auto p = download(pd), m = download(md);
            require_same_bits(std::vector<float>(p.begin() + offset, p.end()), params);
            require_same_bits(std::vector<float>(m.begin() + offset, m.end()), momentum);
        }
    GuardedArray<float> buffer(10);
    CHECK_THROWS_AS(kernels::sgd_update(view(buffer, {10}), view(buffer, {9}), view(buffer, {10}),
                                        SgdConfig{}, nullptr),
                    Error);
}

TEST_CASE("gather kernels match the CPU backend", "[kernels][lenet][gather]") {
    uint64_t seed = 800;
    struct Case { Shape src; int64_t batch; };
    for (const Case c : {Case{{1000, 1, 28, 28}, 1}, Case{{1000, 1, 28, 28}, 32},
                         Case{{1000, 1, 28, 28}, 1000}, Case{{50, 7}, 33}, Case{{3, 1}, 10}}) {
        INFO("src " << c.src.str() << ", " << c.batch << " rows");
        const int64_t row_size = c.src.numel() / c.src[0];
        Shape ds = c.src;
        ds.dims[0] = c.batch;
        auto src = random_vector<float>(as_size(c.src.numel()), ++seed);
        auto rows = random_labels(c.batch, c.src[0], ++seed);  // repeats included
        auto labels = random_labels(c.src[0], 10, ++seed);
        std::vector<float> dst(as_size(c.batch * row_size));
        std::vector<int32_t> dst_labels(as_size(c.batch));
        cpu().gather_rows(view(src, c.src), view(rows, {c.batch}), view(dst, ds));
        cpu().gather_labels(view(labels, {c.src[0]}), view(rows, {c.batch}),
                            view(dst_labels, {c.batch}));

        GuardedArray<float> srcd = on_device(src), dstd = poisoned_floats(ds.numel());
        GuardedArray<int32_t> rowsd = on_device(rows), labelsd = on_device(labels),
                               dst_labelsd = poisoned_indices(c.batch);
        kernels::gather_rows(view(srcd, c.src), view(rowsd, {c.batch}), view(dstd, ds), nullptr);
        kernels::gather_labels(view(labelsd, {c.src[0]}), view(rowsd, {c.batch}),
                               view(dst_labelsd, {c.batch}), nullptr);
        require_same_bits(download(dstd), dst);
        require_same_bits(download(dst_labelsd), dst_labels);
    }
    // A row index outside the source: a NaN row and the label -1, never a read out of bounds.
    GuardedArray<float> src = on_device(random_vector<float>(12, 850)), dst = poisoned_floats(9);
    GuardedArray<int32_t> labels = on_device(std::vector<int32_t>{4, 5, 6, 7});
    GuardedArray<int32_t> rows = on_device(std::vector<int32_t>{1, 4, -1});
    GuardedArray<int32_t> dst_labels = poisoned_indices(3);
    kernels::gather_rows(view(src, {4, 3}), view(rows, {3}), view(dst, {3, 3}), nullptr);
    kernels::gather_labels(view(labels, {4}), view(rows, {3}), view(dst_labels, {3}), nullptr);
    const auto gathered = download(dst);
    for (int i = 0; i < 3; ++i) CHECK_FALSE(std::isnan(gathered[i]));
    for (int i = 3; i < 9; ++i) CHECK(std::isnan(gathered[i]));
    CHECK(download(dst_labels) == std::vector<int32_t>{5, -1, -1});
    CHECK_THROWS_AS(
        kernels::gather_rows(view(src, {4, 3}), view(rows, {3}), view(dst, {2, 3}), nullptr), Error);
    CHECK_THROWS_AS(
        kernels::gather_rows(view(src, {3, 4}), view(rows, {3}), view(dst, {3, 3}), nullptr), Error);
    CHECK_THROWS_AS(kernels::gather_labels(view(labels, {4}), view(rows, {3}), view(dst_labels, {2}),
                                           nullptr),
                    Error);
    // An empty batch is no error on either backend (the row size is dst's trailing dimensions),
    // and source rows of another width are refused even then (engine/op_checks.hpp).
    std::vector<float> host_src = random_vector<float>(12, 851), no_floats;
    std::vector<int32_t> no_rows;
    cpu().gather_rows(view(host_src, {4, 3}), view(no_rows, {0}), view(no_floats, {0, 3}));
    poison(dst);
    kernels::gather_rows(view(src, {4, 3}), view(rows, {0}), view(dst, {0, 3}), nullptr);
    for (const float value : download(dst)) CHECK(std::isnan(value));  // nothing written
    CHECK_THROWS_AS(cpu().gather_rows(view(host_src, {3, 4}), view(no_rows, {0}), view(no_floats, {0, 3})),
                    Error);
    CHECK_THROWS_AS(kernels::gather_rows(view(src, {3, 4}), view(rows, {0}), view(dst, {0, 3}), nullptr),
                    Error);
}

TEST_CASE("fill kernel writes every element", "[kernels][lenet][fill]") {
    for (const int64_t count : {1, 255, 257, 61706, 300001}) {
        INFO("count " << count);
        GuardedArray<float> x = poisoned_floats(count);
        kernels::fill(view(x, {count}), 0.25f, nullptr);
        require_same_bits(download(x), std::vector<float>(as_size(count), 0.25f));
    }
}

TEST_CASE("sum kernels add every element in a fixed order", "[kernels][lenet][reduce_sum]") {
    uint64_t seed = 900;
    for (const int64_t count : {0, 1, 255, 256, 257, 1000, 60000}) {
        INFO("count " << count);
        // Losses are positive; random signs test the order less kindly.
        for (const bool positive : {true, false}) {
            auto x = random_vector<float>(as_size(count), ++seed, 3.0);
            if (positive)
                for (float& v : x) v = std::abs(v);
            double expected = 0;  // what the training loop computes on the host
            for (float v : x) expected += v;
            GuardedArray<float> xd = on_device(x), out = poisoned_floats(1);
            kernels::sum(view(xd, {count}), view(out, {1}), nullptr);
            const std::vector<float> first = download(out);
            // Both accumulate in double: they differ by the float rounding of nearly equal doubles.
            require_close(first, std::vector<float>{float(expected)}, {1e-6, 1e-6});
            poison(out);
            kernels::sum(view(xd, {count}), view(out, {1}), nullptr);
            require_same_bits(download(out), first);
        }
        std::vector<int32_t> flags(as_size(count));
        for (int32_t& flag : flags) flag = (uint32_t(seed++) * 2654435761u) >> 31;
        if (count > 2) flags[1] = -5;
        int64_t expected = 0;
        for (int32_t flag : flags) expected += flag;
        GuardedArray<int32_t> flagsd = on_device(flags), out = poisoned_indices(1);
        kernels::sum(view(flagsd, {count}), view(out, {1}), nullptr);
        CHECK(download(out) == std::vector<int32_t>{int32_t(expected)});
    }
    GuardedArray<float> buffer(10);
    CHECK_THROWS_AS(kernels::sum(view(buffer, {8}), view(buffer, {2}), nullptr), Error);
}
