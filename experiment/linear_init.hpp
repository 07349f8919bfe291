// PyTorch's default initialization of nn.Linear layers (weights and biases uniform in
// +-1/sqrt(fan_in), fan_in the weight's second dimension), for the small MLPs laid out by one
// {name, shape} table (per_weight_mlp.*, diffusion_denoiser.*): the values of `layers` ("<layer>.weight"
// and "<layer>.bias" entries, in that order) drawn from the seed's init stream, everything else 0
// (an output layer that starts at zero).
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/param_layout.hpp"
#include "engine/random.hpp"

namespace twp {

inline std::vector<float> linear_default_parameters(const ParamLayout& layout, std::initializer_list<const char*> layers,
                                                    uint64_t seed) {
    Rng rng(seed, RngStream::kInit);
    std::vector<float> host(layout.total(), 0.0f);
    for (const char* layer : layers) {
        const ParamEntry& w = layout.at(std::string(layer) + ".weight");
        const ParamEntry& b = layout.at(std::string(layer) + ".bias");
        const float bound = 1.0f / std::sqrt(float(w.shape[1]));
        for (const ParamEntry* e : {&w, &b})
            for (int64_t i = 0; i < e->shape.numel(); ++i) host[e->offset + i] = rng.uniform(bound);
    }
    return host;
}

}  // namespace twp
