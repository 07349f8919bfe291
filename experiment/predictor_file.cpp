// Saving and loading model files; see predictor_file.hpp.
#include "experiment/predictor_file.hpp"

#include <system_error>

#include "engine/error.hpp"
#include "engine/safetensors.hpp"

namespace twp {

void save_predictor(const std::filesystem::path& path, const std::string& forecaster, const TransformerConfig& config,
                    bool delta_target,
                    const std::vector<float>& parameters, const FeatureSpace& space,
                    const std::map<std::string, std::string>& extra_metadata) {
    const ParamLayout layout = TransformerPredictor::make_layout(config);
    TWP_CHECK(int64_t(parameters.size()) == layout.total(), "saving " << parameters.size()
                                                                      << " parameters for a model of " << layout.total());
    SafetensorsFile file;
    for (const ParamEntry& e : layout.entries())
        file.tensors.push_back(make_f32_tensor(
            e.name, std::vector<int64_t>(e.shape.dims.begin(), e.shape.dims.begin() + e.shape.rank),
            parameters.data() + e.offset));
    if (space.standardize) {
        file.tensors.push_back(make_f32_tensor("twp.standardize.mean", {space.dim()}, space.mean.data()));
        file.tensors.push_back(make_f32_tensor("twp.standardize.scale", {space.dim()}, space.scale.data()));
    }
    file.metadata = extra_metadata;
    file.metadata["format"] = "twp-transformer-predictor/1";
    file.metadata["forecaster"] = forecaster;
    file.metadata["input_dim"] = std::to_string(config.dim);
    file.metadata["nhead"] = std::to_string(config.heads);
    file.metadata["num_layers"] = std::to_string(config.layers);
    file.metadata["dim_feedforward"] = std::to_string(config.feedforward);
    file.metadata["dropout"] = std::to_string(config.dropout);
    file.metadata["sequence_length"] = std::to_string(config.sequence_length);
    file.metadata["target"] = delta_target ? "delta" : "next";
    file.metadata["standardize"] = space.standardize ? "true" : "false";
    file.metadata["raw_dim"] = std::to_string(space.raw_dim);
    file.metadata["pca"] = space.use_pca ? "pca.safetensors" : "none";
    save_safetensors(path, file);
    if (space.use_pca) save_pca(path.parent_path() / "pca.safetensors", space.pca);
}

LoadedPredictor load_predictor(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        TWP_FAIL("--model_path " << path.string() << " does not exist (it is a <forecaster>_best.safetensors "
                                 << "or <forecaster>_last.safetensors from a results folder's models/)");
    const SafetensorsFile file = load_safetensors(path);
    const auto meta = [&](const char* key) {
        const auto it = file.metadata.find(key);
        if (it == file.metadata.end()) TWP_FAIL(path.string() << " is not a twp predictor: no '" << key << "' in its metadata");
        return it->second;
    };
    TWP_CHECK(meta("format") == "twp-transformer-predictor/1", path.string() << " is not a twp predictor file");
    LoadedPredictor loaded;
    const auto key = file.metadata.find("forecaster");
    loaded.forecaster = key == file.metadata.end() ? kPredictorFileDefaultForecaster : key->second;
    try {
        loaded.config.dim = std::stoll(meta("input_dim"));
        loaded.config.heads = std::stoi(meta("nhead"));
        loaded.config.layers = std::stoi(meta("num_layers"));
        loaded.config.feedforward = std::stoll(meta("dim_feedforward"));
        loaded.config.dropout = std::stof(meta("dropout"));
        loaded.config.sequence_length = std::stoll(meta("sequence_length"));
        loaded.space.raw_dim = std::stoll(meta("raw_dim"));
    } catch (const std::logic_error&) {
        TWP_FAIL(path.string() << ": malformed number in the predictor's metadata");
    }
    loaded.delta_target = meta("target") == "delta";
    const ParamLayout layout = TransformerPredictor::make_layout(loaded.config);
    loaded.parameters.resize(layout.total());
    for (const ParamEntry& e : layout.entries()) {
        const TensorRecord& t = file.at(e.name);
        TWP_CHECK(t.dtype == DType::F32 && t.numel() == e.shape.numel(),
                  path.string() << ": tensor " << e.name << " does not match the configuration in its metadata");
        std::copy(t.f32(), t.f32() + t.numel(), loaded.parameters.begin() + e.offset);
    }
    loaded.space.use_pca = meta("pca") != "none";
    if (loaded.space.use_pca) {
        loaded.space.pca = load_pca(path.parent_path() / "pca.safetensors");
        TWP_CHECK(loaded.space.pca.components == loaded.config.dim,
                  "the PCA beside " << path.string() << " has " << loaded.space.pca.components
                                    << " components, the predictor " << loaded.config.dim);
    }
    if (meta("standardize") == "true") {
        loaded.space.standardize = true;
        const TensorRecord& mean = file.at("twp.standardize.mean");
        const TensorRecord& scale = file.at("twp.standardize.scale");
        TWP_CHECK(mean.numel() == loaded.config.dim && scale.numel() == loaded.config.dim,
                  path.string() << ": standardization statistics of the wrong width");
        loaded.space.mean.assign(mean.f32(), mean.f32() + mean.numel());
        loaded.space.scale.assign(scale.f32(), scale.f32() + scale.numel());
    }
    return loaded;
}

}  // namespace twp
