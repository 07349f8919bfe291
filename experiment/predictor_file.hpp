// Model files: the predictor's parameters under PyTorch's state_dict names, with its
// configuration and the feature space in __metadata__ (format twp-transformer-predictor/1,
// input_dim, nhead, num_layers, dim_feedforward, dropout, sequence_length, target, standardize,
// raw_dim, pca) and, when standardized, the tensors twp.standardize.mean and .scale [D]; the PCA
// beside it as pca.safetensors (engine/pca.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "experiment/feature_space.hpp"
#include "experiment/transformer.hpp"

namespace twp {

void save_predictor(const std::filesystem::path& path, const TransformerConfig& config,
                    bool delta_target, const std::vector<float>& parameters, const FeatureSpace& space,
                    const std::map<std::string, std::string>& extra_metadata);

struct LoadedPredictor {
    TransformerConfig config;
    bool delta_target = false;
    std::vector<float> parameters;
    FeatureSpace space;
};
// Throws twp::Error naming the file for a missing file, another format or a malformed one.
LoadedPredictor load_predictor(const std::filesystem::path& path);

}  // namespace twp
