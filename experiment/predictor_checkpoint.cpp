// The predictor training checkpoint; see predictor_checkpoint.hpp.
#include "experiment/predictor_checkpoint.hpp"

#include <algorithm>
#include <cstdlib>

#include "engine/error.hpp"
#include "engine/safetensors.hpp"
#include "experiment/numbers.hpp"

namespace twp {
namespace {

constexpr const char* kCheckpointFormat = "twp-predictor-checkpoint/2";
constexpr const char* kCheckpointSuffix = "_checkpoint.safetensors";

}  // namespace

const char* selection_set_name(SelectionSet set) { return set == SelectionSet::kValidation ? "validation" : "test"; }

std::filesystem::path predictor_checkpoint_path(const std::filesystem::path& experiment_dir, const std::string& key) {
    return experiment_dir / "models" / (key + kCheckpointSuffix);
}

std::vector<std::filesystem::path> predictor_checkpoints(const std::filesystem::path& experiment_dir) {
    std::vector<std::filesystem::path> found;
    std::error_code error;
    const std::string suffix = kCheckpointSuffix;
    for (const auto& entry : std::filesystem::directory_iterator(experiment_dir / "models", error)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
            entry.is_regular_file(error))
            found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

void remove_predictor_checkpoints(const std::filesystem::path& experiment_dir) {
    for (const std::filesystem::path& checkpoint : predictor_checkpoints(experiment_dir)) {
        std::error_code error;
        std::filesystem::remove(checkpoint, error);
        if (error) TWP_FAIL("cannot remove " << checkpoint.string() << ": " << error.message());
    }
}

void save_predictor_checkpoint(const std::filesystem::path& path, const PredictorCheckpoint& c) {
    const int64_t count = int64_t(c.parameters.size());
    TWP_CHECK(int64_t(c.adam_m.size()) == count && int64_t(c.adam_v.size()) == count &&
                  int64_t(c.best_parameters.size()) == count,
              "predictor checkpoint: parameters, Adam moments and best parameters differ in size");
    const int64_t epochs = int64_t(c.history.train_loss.size());
    TWP_CHECK(epochs == c.epoch && int64_t(c.history.selection_loss.size()) == epochs,
              "predictor checkpoint: the loss history does not cover the epochs done");
    SafetensorsFile file;
    file.tensors.push_back(make_f32_tensor("parameters", {count}, c.parameters.data()));
    file.tensors.push_back(make_f32_tensor("adam_m", {count}, c.adam_m.data()));
    file.tensors.push_back(make_f32_tensor("adam_v", {count}, c.adam_v.data()));
    file.tensors.push_back(make_f32_tensor("best_parameters", {count}, c.best_parameters.data()));
    file.tensors.push_back(make_tensor("train_order", DType::I64, {int64_t(c.train_order.size())}, c.train_order.data()));
    file.tensors.push_back(make_tensor("train_loss", DType::F64, {epochs}, c.history.train_loss.data()));
    file.tensors.push_back(make_tensor("selection_loss", DType::F64, {epochs}, c.history.selection_loss.data()));
    file.metadata = checkpoint_metadata(c, kCheckpointFormat);
    file.metadata["dropout_counter"] = std::to_string(c.dropout_counter);
    file.metadata["finished"] = c.finished ? "1" : "0";
    file.metadata["selection_set"] = selection_set_name(c.history.selection);
    file.metadata["initial_selection_loss"] = number_text(c.history.initial_selection_loss, "%.17g");
    file.metadata["best_epoch"] = std::to_string(c.history.best_epoch);
    file.metadata["best_step"] = std::to_string(c.history.best_step);
    file.metadata["best_selection_loss"] = number_text(c.history.best_selection_loss, "%.17g");
    file.metadata["epochs_since_best"] = std::to_string(c.history.epochs_since_best);
    file.metadata["stopped_early"] = c.history.stopped_early ? "1" : "0";
    save_safetensors(path, file);
}

PredictorCheckpoint load_predictor_checkpoint(const std::filesystem::path& path) {
    const SafetensorsFile file = load_safetensors(path);
    PredictorCheckpoint c;
    static_cast<CheckpointHeader&>(c) = read_checkpoint_metadata(
        file, kCheckpointFormat, "a twp predictor training checkpoint",
        {"dropout_counter", "finished", "selection_set", "initial_selection_loss", "best_epoch", "best_step", "best_selection_loss", "epochs_since_best",
         "stopped_early"});
    c.dropout_counter = metadata_number<uint64_t>(file, "dropout_counter");
    c.finished = metadata_number<int>(file, "finished") != 0;
    const auto text = [&](const char* key) {
        const auto it = file.metadata.find(key);
        TWP_CHECK(it != file.metadata.end(), path.string() << " has no '" << key << "' in its metadata");
        return it->second;
    };
    const std::string selection = text("selection_set");
    TWP_CHECK(selection == "validation" || selection == "test",
              path.string() << ": selection_set is '" << selection << "', not validation or test");
    c.history.selection = selection == "validation" ? SelectionSet::kValidation : SelectionSet::kTest;
    c.history.initial_selection_loss = std::strtod(text("initial_selection_loss").c_str(), nullptr);
    c.history.best_epoch = metadata_number<int>(file, "best_epoch");
    c.history.best_step = metadata_number<int64_t>(file, "best_step");
    c.history.best_selection_loss = std::strtod(text("best_selection_loss").c_str(), nullptr);
    c.history.epochs_since_best = metadata_number<int>(file, "epochs_since_best");
    c.history.stopped_early = metadata_number<int>(file, "stopped_early") != 0;
    c.history.steps = c.step;
    const auto floats = [&](const char* name) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::F32, path.string() << ": tensor " << name << " is not F32");
        return std::vector<float>(t.f32(), t.f32() + t.numel());
    };
    const auto doubles = [&](const char* name) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::F64, path.string() << ": tensor " << name << " is not F64");
        return std::vector<double>(t.f64(), t.f64() + t.numel());
    };
    c.parameters = floats("parameters");
    c.adam_m = floats("adam_m");
    c.adam_v = floats("adam_v");
    c.best_parameters = floats("best_parameters");
    const TensorRecord& order = file.at("train_order");
    TWP_CHECK(order.dtype == DType::I64, path.string() << ": tensor train_order is not I64");
    c.train_order.assign(order.i64(), order.i64() + order.numel());
    c.history.train_loss = doubles("train_loss");
    c.history.selection_loss = doubles("selection_loss");
    const size_t count = c.parameters.size();
    TWP_CHECK(c.adam_m.size() == count && c.adam_v.size() == count && c.best_parameters.size() == count &&
                  c.epoch >= 1 && int64_t(c.history.train_loss.size()) == c.epoch &&
                  int64_t(c.history.selection_loss.size()) == c.epoch && c.history.best_epoch >= 0 &&
                  c.history.best_epoch <= c.epoch && c.step >= 0 && c.history.best_step >= 0 &&
                  c.history.best_step <= c.step && c.history.epochs_since_best >= 0,
              path.string() << ": the checkpoint's tensors and counters do not fit together");
    std::vector<bool> seen(c.train_order.size(), false);
    for (const int64_t w : c.train_order) {
        TWP_CHECK(w >= 0 && w < int64_t(seen.size()) && !seen[w], path.string() << ": train_order is not a permutation");
        seen[w] = true;
    }
    return c;
}

std::filesystem::path find_unfinished_experiment(const std::filesystem::path& results_dir) {
    std::filesystem::path found;
    std::filesystem::file_time_type newest;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(results_dir, error)) {
        if (!entry.is_directory(error) || entry.path().filename().string().rfind("experiment_", 0) != 0) continue;
        for (const std::filesystem::path& checkpoint : predictor_checkpoints(entry.path())) {
            const auto written = std::filesystem::last_write_time(checkpoint, error);
            if (error) continue;
            if (found.empty() || written > newest || (written == newest && entry.path() > found)) {
                found = entry.path();
                newest = written;
            }
        }
    }
    return found;
}

}  // namespace twp
