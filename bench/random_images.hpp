// MNIST-shaped random images and labels for the LeNet-5 benchmarks: the speed of the network does
// not depend on pixel values, so the benchmarks need no data files.
#pragma once

#include <cstdint>

#include "engine/random.hpp"
#include "experiment/mnist.hpp"

namespace twp::bench {

inline ImageSet random_images(int64_t count, uint64_t seed) {
    ImageSet set;
    set.count = count;
    set.rows = set.cols = 28;
    Rng rng(seed, RngStream::kInit);
    set.pixels.resize(count * 28 * 28);
    for (float& p : set.pixels) p = rng.uniform(2.0f);
    set.labels.resize(count);
    for (int32_t& l : set.labels) l = int32_t(rng.below(10));
    return set;
}

}  // namespace twp::bench
