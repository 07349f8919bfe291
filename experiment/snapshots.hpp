// Weight snapshots of base training, on disk:
//   <snapshot_dir>/training_runs/run_<r>/
//     epoch_<EEE>_batch_<BBBBB>.safetensors   one per snapshot: LeNet-5's state_dict, F32, named
//                                              and shaped as PyTorch's (conv1.weight [6,1,5,5]...)
//     index.json                               the run's snapshots in training order
//     checkpoint.safetensors                   what --resume continues from (BaseCheckpoint)
//   <snapshot_dir>/.twp.lock                   held (flock) by the process writing the folder
// Each snapshot's __metadata__ carries run, epoch, step, batch_in_epoch, epoch_fraction,
// test_accuracy, test_loss, seed and dataset. Every file is written atomically, and the index is
// rewritten after each snapshot, so it only ever lists complete files. At each snapshot the order
// is: snapshot file, index, checkpoint; so the checkpoint's step is always the index's last step
// or an earlier one (a crash in between), never a later one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "experiment/checkpoint_metadata.hpp"

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
    // Starts a run from scratch: removes a previous checkpoint, index, the snapshot files and any
    // temporary files an interrupted write left.
    static RunIndex start_fresh(const std::filesystem::path& run_dir);

    // Writes the snapshot file (atomically), then the index that lists it.
    void add(const SnapshotRecord& record, const std::vector<float>& parameters);
    // For --resume: drops the records taken after `step` (the index is rewritten first, then their
    // files are removed), then removes snapshot files the index does not list and temporary files.
    void truncate_after(int64_t step);

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

// Removes the files an atomic write killed mid-way left in `directory` ("<name>.<pid>.tmp");
// returns how many.
int remove_stale_temporaries(const std::filesystem::path& directory);

// A run's training state at its last snapshot, run_<r>/checkpoint.safetensors: with it a resumed
// run continues bit for bit as if it had never stopped. Tensors: parameters and momentum [61706]
// (F32, state_dict order); in the middle of an epoch also that epoch's order [train images] (I32)
// and the per-sample training losses and hits of the batches done so far (F32 / I32). Metadata:
// the settings (what the run is; a resume must match them), epoch, batch_in_epoch, step, the
// shuffle Rng's position and used words, complete.
// The header's epoch: the 1-based epoch of the last snapshot; its step: SGD steps since the run began.
struct BaseCheckpoint : CheckpointHeader {
    int64_t batch_in_epoch = 0;    // batches of that epoch done
    bool complete = false;         // the run's last snapshot: nothing left to train
    std::vector<float> parameters, momentum;  // [61706]
    std::vector<int32_t> epoch_order;         // [train images], or empty at the end of an epoch
    std::vector<float> epoch_losses;          // [samples done in the epoch], or empty likewise
    std::vector<int32_t> epoch_correct;       // [samples done in the epoch], or empty likewise
};

std::filesystem::path base_checkpoint_path(const std::filesystem::path& run_dir);
void write_base_checkpoint(const std::filesystem::path& run_dir, const BaseCheckpoint& checkpoint);
// Reads and checks the structure (sizes, ranges); the settings are the caller's to compare.
BaseCheckpoint read_base_checkpoint(const std::filesystem::path& run_dir);

// An exclusive advisory lock (flock) on a folder twp writes into, held by the file <dir>/.twp.lock
// (created if needed, holding the owner's PID) for this object's lifetime; the kernel releases it
// when the process ends, however it ends. A second process is refused with twp::Error naming the
// owner's PID and `hint` (what to do instead). The folder is created if needed.
class FolderLock {
public:
    FolderLock(const std::filesystem::path& directory, const std::string& hint);
    ~FolderLock();
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace twp
