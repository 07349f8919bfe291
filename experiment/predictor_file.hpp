// Model files: the predictor's parameters under PyTorch's state_dict names, with its
// configuration and the feature space in __metadata__ (format twp-transformer-predictor/1,
// forecaster (the key of the forecaster that trained it: seed, transformer), input_dim, nhead,
// num_layers, dim_feedforward, dropout, sequence_length, target, standardize, raw_dim, pca) and,
// when standardized, the tensors twp.standardize.mean and .scale [D]; the PCA beside it as
// pca.safetensors (engine/pca.hpp). Files written before the forecaster key load as "seed" (the
// reference's transformer, the only one then).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "experiment/feature_space.hpp"
#include "experiment/transformer.hpp"

namespace twp {

// The forecaster key of a file without one.
constexpr const char* kPredictorFileDefaultForecaster = "seed";

void save_predictor(const std::filesystem::path& path, const std::string& forecaster, const TransformerConfig& config,
                    bool delta_target, const std::vector<float>& parameters, const FeatureSpace& space,
                    const std::map<std::string, std::string>& extra_metadata);

struct LoadedPredictor {
    std::string forecaster;  // the key of the forecaster that saved it
    TransformerConfig config;
    bool delta_target = false;
    std::vector<float> parameters;
    FeatureSpace space;
};
// Throws twp::Error naming the file for a missing file, another format or a malformed one.
LoadedPredictor load_predictor(const std::filesystem::path& path);

}  // namespace twp
