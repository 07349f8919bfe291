// Snapshot files and the per-run index; layout in snapshots.hpp.
#include "experiment/snapshots.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "engine/safetensors.hpp"
#include "experiment/lenet5.hpp"

namespace twp {
namespace {

constexpr const char* kIndexName = "index.json";
constexpr const char* kIndexFormat = "twp-snapshot-index/1";
constexpr const char* kCheckpointName = "checkpoint.safetensors";
constexpr const char* kCheckpointFormat = "twp-base-checkpoint/1";
constexpr const char* kLockName = ".twp.lock";

// "epoch_<EEE>_batch_<BBBBB>.safetensors": a name only base training writes.
bool is_snapshot_name(const std::string& name) {
    const std::string suffix = ".safetensors";
    return name.rfind("epoch_", 0) == 0 && name.find("_batch_") != std::string::npos &&
           name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Removes the snapshot files of `run_dir` that `keep` does not list.
void remove_unlisted_snapshots(const std::filesystem::path& run_dir, const std::vector<SnapshotRecord>& keep) {
    std::error_code error;
    std::vector<std::filesystem::path> stray;
    for (const auto& entry : std::filesystem::directory_iterator(run_dir, error)) {
        const std::string name = entry.path().filename().string();
        if (!is_snapshot_name(name)) continue;
        bool listed = false;
        for (const SnapshotRecord& r : keep) listed = listed || r.file == name;
        if (!listed) stray.push_back(entry.path());
    }
    for (const std::filesystem::path& path : stray) {
        std::filesystem::remove(path, error);
        if (error) TWP_FAIL("cannot remove " << path.string() << ": " << error.message());
    }
}

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
    // The checkpoint goes first, then the index: a crash in between leaves an index without a
    // checkpoint (which --resume starts afresh) or stray files, never a checkpoint or an index
    // that describes snapshots of two different trainings.
    for (const char* name : {kCheckpointName, kIndexName}) {
        std::error_code error;
        std::filesystem::remove(run_dir / name, error);
        if (error) TWP_FAIL("cannot remove " << (run_dir / name).string() << ": " << error.message());
    }
    remove_unlisted_snapshots(run_dir, {});
    remove_stale_temporaries(run_dir);
    return RunIndex(run_dir);
}

void RunIndex::truncate_after(int64_t step) {
    size_t keep = 0;
    while (keep < records_.size() && records_[keep].step <= step) ++keep;
    if (keep < records_.size()) {
        records_.resize(keep);
        save();  // before the files go: the index never lists a missing file
    }
    remove_unlisted_snapshots(run_dir_, records_);
    remove_stale_temporaries(run_dir_);
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

int remove_stale_temporaries(const std::filesystem::path& directory) {
    std::error_code error;
    std::vector<std::filesystem::path> stale;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0 && entry.is_regular_file(error))
            stale.push_back(entry.path());
    }
    for (const std::filesystem::path& path : stale) {
        std::filesystem::remove(path, error);
        if (error) TWP_FAIL("cannot remove the stale temporary file " << path.string() << ": " << error.message());
    }
    return int(stale.size());
}

// ---- the run checkpoint ----

std::filesystem::path base_checkpoint_path(const std::filesystem::path& run_dir) {
    return run_dir / kCheckpointName;
}

void write_base_checkpoint(const std::filesystem::path& run_dir, const BaseCheckpoint& c) {
    const int64_t n = LeNet5::kParameterCount;
    TWP_CHECK(int64_t(c.parameters.size()) == n && int64_t(c.momentum.size()) == n,
              "checkpoint: parameters and momentum must hold " << n << " values");
    TWP_CHECK(c.epoch_losses.size() == c.epoch_correct.size(), "checkpoint: losses and hits differ in length");
    SafetensorsFile file;
    file.tensors.push_back(make_f32_tensor("parameters", {n}, c.parameters.data()));
    file.tensors.push_back(make_f32_tensor("momentum", {n}, c.momentum.data()));
    if (!c.epoch_order.empty()) {
        const int64_t done = int64_t(c.epoch_losses.size());
        file.tensors.push_back(make_i32_tensor("epoch_order", {int64_t(c.epoch_order.size())}, c.epoch_order.data()));
        file.tensors.push_back(make_f32_tensor("epoch_losses", {done}, c.epoch_losses.data()));
        file.tensors.push_back(make_i32_tensor("epoch_correct", {done}, c.epoch_correct.data()));
    }
    file.metadata = checkpoint_metadata(c, kCheckpointFormat);
    file.metadata["batch_in_epoch"] = std::to_string(c.batch_in_epoch);
    file.metadata["complete"] = c.complete ? "true" : "false";
    save_safetensors(run_dir / kCheckpointName, file);
}

BaseCheckpoint read_base_checkpoint(const std::filesystem::path& run_dir) {
    const SafetensorsFile file = load_safetensors(run_dir / kCheckpointName);
    const std::string& source = file.source;
    BaseCheckpoint c;
    static_cast<CheckpointHeader&>(c) =
        read_checkpoint_metadata(file, kCheckpointFormat, "a twp base training checkpoint", {"batch_in_epoch", "complete"});
    c.batch_in_epoch = metadata_number<int64_t>(file, "batch_in_epoch");
    const auto complete = file.metadata.find("complete");
    c.complete = complete != file.metadata.end() && complete->second == "true";
    TWP_CHECK(c.epoch >= 1 && c.batch_in_epoch >= 1 && c.step >= c.batch_in_epoch,
              source << ": epoch " << c.epoch << ", batch " << c.batch_in_epoch << ", step " << c.step
                     << " is no point a run can be at");

    const int64_t n = LeNet5::kParameterCount;
    const auto floats = [&](const char* name, int64_t count) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::F32 && (count < 0 || t.numel() == count),
                  source << ": tensor " << name << " is not F32 of " << count << " values");
        return std::vector<float>(t.f32(), t.f32() + t.numel());
    };
    const auto ints = [&](const char* name) {
        const TensorRecord& t = file.at(name);
        TWP_CHECK(t.dtype == DType::I32, source << ": tensor " << name << " is not I32");
        return std::vector<int32_t>(t.i32(), t.i32() + t.numel());
    };
    c.parameters = floats("parameters", n);
    c.momentum = floats("momentum", n);
    if (file.find("epoch_order")) {
        c.epoch_order = ints("epoch_order");
        c.epoch_losses = floats("epoch_losses", -1);
        c.epoch_correct = ints("epoch_correct");
        const int64_t count = int64_t(c.epoch_order.size());
        TWP_CHECK(c.epoch_losses.size() == c.epoch_correct.size() && int64_t(c.epoch_losses.size()) <= count,
                  source << ": the epoch's losses and hits do not fit its order");
        std::vector<bool> seen(count, false);
        for (const int32_t row : c.epoch_order) {
            TWP_CHECK(row >= 0 && row < count && !seen[row], source << ": epoch_order is not a permutation");
            seen[row] = true;
        }
    }
    return c;
}

// ---- the folder lock ----

FolderLock::FolderLock(const std::filesystem::path& directory, const std::string& hint) {
    create_directories_checked(directory);
    const std::filesystem::path path = directory / kLockName;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        const int error_number = errno;
        TWP_FAIL("cannot create the lock file " << path.string() << ": " << std::strerror(error_number)
                                                << "; check that the folder is writable");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int error_number = errno;
        char owner[32] = {};
        const ssize_t got = ::pread(fd_, owner, sizeof owner - 1, 0);
        ::close(fd_);
        fd_ = -1;
        if (error_number != EWOULDBLOCK)
            TWP_FAIL("cannot lock " << path.string() << ": " << std::strerror(error_number));
        long pid = 0;
        const bool known = got > 0 && std::sscanf(owner, "%ld", &pid) == 1 && pid > 0;
        TWP_FAIL("another twp process" << (known ? " (pid " + std::to_string(pid) + ")" : std::string())
                                       << " is writing to " << directory.string() << "; " << hint);
    }
    // The owner's PID, for the message above; a lock without it still works.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // best effort: the lock itself is what matters
    }
}

FolderLock::~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace twp
