// Weight snapshots of base training, on disk:
//   <snapshot_dir>/training_runs/run_<r>/
//     epoch_<EEE>_batch_<BBBBB>.safetensors   one per snapshot: LeNet-5's state_dict, F32, named
//                                              and shaped as PyTorch's (conv1.weight [6,1,5,5]...)
//     index.json                               the run's snapshots in training order
// Each snapshot's __metadata__ carries run, epoch, step, batch_in_epoch, epoch_fraction,
// test_accuracy, test_loss, seed and dataset. Every file is written atomically, and the index is
// rewritten after each snapshot, so it only ever lists complete files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace twp {

struct SnapshotRecord {
    std::string file;            // name inside the run folder
    int run = 0;                 // 1-based
    int epoch = 0;               // 1-based
    int64_t step = 0;            // optimizer steps since the start of the run
    int64_t batch_in_epoch = 0;  // batches done in this epoch when taken
    double epoch_fraction = 0;   // batch_in_epoch / batches per epoch
    double test_accuracy = 0;    // percent, on the whole test set, at this moment
    double test_loss = 0;        // mean cross-entropy over the test set
    uint64_t seed = 0;
    std::string dataset;
};

std::filesystem::path run_directory(const std::filesystem::path& snapshot_dir, int run);
std::string snapshot_file_name(int epoch, int64_t batch_in_epoch);

// The run's index.json, kept in step with the files written.
class RunIndex {
public:
    explicit RunIndex(std::filesystem::path run_dir) : run_dir_(std::move(run_dir)) {}

    // Reads run_dir/index.json; throws a clear error when it is missing or malformed.
    static RunIndex load(const std::filesystem::path& run_dir);
    // Starts a run from scratch: removes a previous index and the snapshot files it lists.
    static RunIndex start_fresh(const std::filesystem::path& run_dir);

    // Writes the snapshot file (atomically), then the index that lists it.
    void add(const SnapshotRecord& record, const std::vector<float>& parameters);

    const std::vector<SnapshotRecord>& records() const { return records_; }
    const std::filesystem::path& directory() const { return run_dir_; }

private:
    void save() const;

    std::filesystem::path run_dir_;
    std::vector<SnapshotRecord> records_;
};

// Writes / reads one LeNet-5 snapshot file. parameters: [61706] in state_dict order.
void write_snapshot(const std::filesystem::path& path, const SnapshotRecord& record,
                    const std::vector<float>& parameters);
// Checks tensor names, order-independent, and shapes against LeNet-5; returns the flat buffer.
std::vector<float> read_snapshot(const std::filesystem::path& path);

}  // namespace twp
