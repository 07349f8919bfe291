// Snapshot files and the per-run index; layout in snapshots.hpp.
#include "experiment/snapshots.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "engine/safetensors.hpp"
#include "experiment/lenet5.hpp"

namespace twp {
namespace {

constexpr const char* kIndexName = "index.json";
constexpr const char* kIndexFormat = "twp-snapshot-index/1";

// Metadata values are strings in safetensors; doubles are written with full precision.
std::string exact(double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

nlohmann::ordered_json to_json(const SnapshotRecord& r) {
    return {{"file", r.file},
            {"epoch", r.epoch},
            {"step", r.step},
            {"batch_in_epoch", r.batch_in_epoch},
            {"epoch_fraction", r.epoch_fraction},
            {"test_accuracy", r.test_accuracy},
            {"test_loss", r.test_loss}};
}

}  // namespace

std::filesystem::path run_directory(const std::filesystem::path& snapshot_dir, int run) {
    return snapshot_dir / "training_runs" / ("run_" + std::to_string(run));
}

std::string snapshot_file_name(int epoch, int64_t batch_in_epoch) {
    char name[64];
    std::snprintf(name, sizeof name, "epoch_%03d_batch_%05lld.safetensors", epoch,
                  static_cast<long long>(batch_in_epoch));
    return name;
}

void write_snapshot(const std::filesystem::path& path, const SnapshotRecord& r,
                    const std::vector<float>& parameters) {
    const ParamLayout& layout = LeNet5::layout();
    TWP_CHECK(int64_t(parameters.size()) == layout.total(),
              "snapshot of " << parameters.size() << " floats, LeNet-5 has " << layout.total());
    SafetensorsFile file;
    for (const ParamEntry& e : layout.entries())
        file.tensors.push_back(make_f32_tensor(
            e.name, std::vector<int64_t>(e.shape.dims.begin(), e.shape.dims.begin() + e.shape.rank),
            parameters.data() + e.offset));
    file.metadata = {{"format", "twp-lenet5-snapshot/1"},
                     {"model", "lenet5"},
                     {"run", std::to_string(r.run)},
                     {"epoch", std::to_string(r.epoch)},
                     {"step", std::to_string(r.step)},
                     {"batch_in_epoch", std::to_string(r.batch_in_epoch)},
                     {"epoch_fraction", exact(r.epoch_fraction)},
                     {"test_accuracy", exact(r.test_accuracy)},
                     {"test_loss", exact(r.test_loss)},
                     {"seed", std::to_string(r.seed)},
                     {"dataset", r.dataset}};
    save_safetensors(path, file);
}

std::vector<float> read_snapshot(const std::filesystem::path& path) {
    const SafetensorsFile file = load_safetensors(path);
    const ParamLayout& layout = LeNet5::layout();
    TWP_CHECK(file.tensors.size() == layout.entries().size(),
              path.string() << " holds " << file.tensors.size() << " tensors; a LeNet-5 snapshot has "
                            << layout.entries().size());
    std::vector<float> parameters(layout.total());
    for (const ParamEntry& e : layout.entries()) {
        const TensorRecord& t = file.at(e.name);
        const std::vector<int64_t> expected(e.shape.dims.begin(), e.shape.dims.begin() + e.shape.rank);
        TWP_CHECK(t.dtype == DType::F32 && t.shape == expected,
                  path.string() << ": tensor " << e.name << " is " << dtype_name(t.dtype)
                                << " of another shape than LeNet-5's " << e.shape.str());
        std::copy(t.f32(), t.f32() + t.numel(), parameters.begin() + e.offset);
    }
    return parameters;
}

RunIndex RunIndex::load(const std::filesystem::path& run_dir) {
    const std::filesystem::path path = run_dir / kIndexName;
    std::ifstream in(path);
    if (!in) TWP_FAIL("cannot open " << path.string() << ": run `twp --mode train_base` first");
    RunIndex index(run_dir);
    try {
        const nlohmann::json j = nlohmann::json::parse(in);
        TWP_CHECK(j.at("format") == kIndexFormat, path.string() << " has an unknown format");
        for (const auto& s : j.at("snapshots")) {
            SnapshotRecord r;
            r.file = s.at("file").get<std::string>();
            r.run = j.at("run").get<int>();
            r.seed = j.at("seed").get<uint64_t>();
            r.dataset = j.at("dataset").get<std::string>();
            r.epoch = s.at("epoch").get<int>();
            r.step = s.at("step").get<int64_t>();
            r.batch_in_epoch = s.at("batch_in_epoch").get<int64_t>();
            r.epoch_fraction = s.at("epoch_fraction").get<double>();
            r.test_accuracy = s.at("test_accuracy").get<double>();
            r.test_loss = s.at("test_loss").get<double>();
            index.records_.push_back(r);
        }
    } catch (const nlohmann::json::exception& e) {
        TWP_FAIL(path.string() << " is not a valid snapshot index: " << e.what());
    }
    return index;
}

RunIndex RunIndex::start_fresh(const std::filesystem::path& run_dir) {
    create_directories_checked(run_dir);
    const std::filesystem::path index_path = run_dir / kIndexName;
    if (std::filesystem::exists(index_path)) {
        // The index goes first: a crash in between leaves stray files, never an index that lists
        // snapshots of two different trainings.
        const RunIndex previous = load(run_dir);
        std::error_code error;
        std::filesystem::remove(index_path, error);
        if (error) TWP_FAIL("cannot remove " << index_path.string() << ": " << error.message());
        for (const SnapshotRecord& r : previous.records())
            std::filesystem::remove(run_dir / r.file, error);  // already gone is fine
    }
    return RunIndex(run_dir);
}

void RunIndex::add(const SnapshotRecord& record, const std::vector<float>& parameters) {
    write_snapshot(run_dir_ / record.file, record, parameters);
    records_.push_back(record);
    save();
}

void RunIndex::save() const {
    nlohmann::ordered_json j;
    j["format"] = kIndexFormat;
    j["model"] = "lenet5";
    j["parameter_count"] = LeNet5::kParameterCount;
    if (!records_.empty()) {
        j["run"] = records_.front().run;
        j["seed"] = records_.front().seed;
        j["dataset"] = records_.front().dataset;
    }
    j["snapshots"] = nlohmann::ordered_json::array();
    for (const SnapshotRecord& r : records_) j["snapshots"].push_back(to_json(r));
    write_file_atomically(run_dir_ / kIndexName, j.dump(2) + "\n");
}

}  // namespace twp
