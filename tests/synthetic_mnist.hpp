// Images shaped and scaled like normalized MNIST (mostly background at -0.42, strokes up to 2.8)
// with random labels: data for tests that train LeNet-5 without the MNIST files, and fast enough
// to make under the CUDA emulation.
#pragma once

#include <cstdint>
#include <random>

#include "experiment/mnist.hpp"

namespace twp::test {

inline ImageSet synthetic_mnist(int64_t count, uint32_t seed) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<float> stroke(-0.4242f, 2.8215f);
    std::bernoulli_distribution ink(0.2);
    ImageSet set;
    set.count = count;
    set.rows = set.cols = 28;
    for (int64_t i = 0; i < count * 28 * 28; ++i) set.pixels.push_back(ink(random) ? stroke(random) : -0.4242f);
    for (int64_t i = 0; i < count; ++i) set.labels.push_back(int32_t(random() % 10));
    return set;
}

}  // namespace twp::test
