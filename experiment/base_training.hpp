// Base training: LeNet-5 on MNIST as the reference trains it (batch 32 reshuffled every epoch,
// SGD lr 0.005 momentum 0.9 weight decay 5e-4, cross-entropy), taking weight snapshots:
// with snapshots_per_epoch N > 1, one after every (batches / N)-th batch inside each epoch (not
// after batch 0, not after the last batch), and always one at the end of each epoch. Each snapshot
// records the test loss and accuracy measured at that moment (test batches of 1000).
// Written against the Backend interface: the data lives in backend memory, uploaded once, and
// each batch is gathered there from the epoch's shuffled order.
//
// Crashes: at every snapshot the run's full state goes to run_<r>/checkpoint.safetensors (see
// snapshots.hpp), and with `resume` each run continues from it bit for bit (a run already
// complete is skipped, a run without a checkpoint starts afresh). Numerical faults: a NaN or Inf
// in a training loss, the parameters or the test loss stops training with twp::Error naming the
// run, epoch and step, before any snapshot holding it is written. On the CPU backend each batch's
// losses are looked at right away (they are host memory); on a device the losses of the epoch so
// far and the parameters are looked at each snapshot, with no per-step copy to the host, and the
// first non-finite loss still gives the exact step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "engine/backend.hpp"
#include "engine/buffer.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/mnist.hpp"
#include "experiment/snapshots.hpp"

namespace twp {

class SnapshotHook;

struct BaseTrainingOptions {
    int epochs = 20;
    int snapshots_per_epoch = 1;
    int num_runs = 3;
    uint64_t random_seed = 42;  // run r: random_seed + r - 1
    std::filesystem::path snapshot_dir = "./data/snapshots";
    int64_t batch_size = 32;
    int64_t test_batch_size = 1000;
    SgdConfig sgd;
    bool show_progress = true;
    bool resume = false;  // continue each run from its checkpoint instead of starting afresh
    // Whether each batch's losses are looked at right away where the backend's memory is the
    // host's (the CPU); false looks at snapshots only, as on a device.
    bool check_each_step_on_host = true;
    // Capture the training step once and replay it (a CUDA graph on the CUDA backend; the CPU
    // backend has nothing to capture). false launches every op of every step (for benchmarks).
    bool capture_step = true;
    // Let experiment/thread_tuner.hpp choose the CPU threads of each training step (1 up to the
    // backend's max_threads) from the steps' times; false keeps max_threads (--threads given).
    bool tune_threads = true;
    int stop_after_snapshot = 0;  // > 0: throw twp::Error once a run's N-th snapshot and its
                                  // checkpoint are written, as a crash would (how tests interrupt)
    // Told at each snapshot before it is taken, and may change the run's state there (nowcasting's
    // jumps, experiment/nowcast_hook.hpp); none: plain SGD.
    SnapshotHook* hook = nullptr;
};

struct Evaluation {
    double loss = 0;      // mean cross-entropy
    double accuracy = 0;  // percent correct
};

struct RunSummary {
    int run = 0;
    uint64_t seed = 0;
    std::filesystem::path directory;
    int snapshots = 0;
    Evaluation final_test;
    double seconds = 0;                  // spent in this process
    double train_images_per_second = 0;  // images trained in this process / seconds
    bool already_complete = false;       // resume found the run finished: nothing was trained
    int64_t resumed_at_step = 0;         // resume continued the run from this step (0: from the start)
};

// A dataset split in backend memory: images [count, 1, 28, 28] and labels [count].
struct DeviceImageSet {
    DeviceImageSet(Backend& backend, const ImageSet& set);
    int64_t count;
    Buffer<float> images;
    Buffer<int32_t> labels;
    Tensor image_view() const { return images.view({count, 1, LeNet5::kImageSize, LeNet5::kImageSize}); }
};

// A run's state at a snapshot, before the snapshot is taken: its step (SGD steps so far) and
// where it stands, its parameters and momentum in backend memory, and what scores it.
struct SnapshotMoment {
    int run = 0;
    int epoch = 0;
    int64_t batch_in_epoch = 0;  // batches of the epoch done
    int64_t step = 0;
    bool last = false;           // the run's last snapshot
    Tensor parameters, momentum;  // [LeNet5::kParameterCount] each
    LeNet5& model;                // holds `parameters`
    const DeviceImageSet& test;
    int64_t test_batch_size = 0;
};

// What base training tells a hook. begin_run: a run starts (records empty) or resumes after its
// last snapshot (records: the run's index as the checkpoint leaves it). before_snapshot: at every
// snapshot, before the parameters are looked at, scored and written; whatever it leaves in
// moment.parameters and moment.momentum is what the snapshot records and training continues from.
class SnapshotHook {
public:
    virtual ~SnapshotHook() = default;
    virtual void begin_run(const std::filesystem::path& run_dir, const std::vector<SnapshotRecord>& records) = 0;
    virtual void before_snapshot(const SnapshotMoment& moment) = 0;
};

// Scores the model's current parameters on a whole set, in batches of up to model.max_batch().
Evaluation evaluate(Backend& backend, LeNet5& model, const DeviceImageSet& set, int64_t batch_size);

// Trains options.num_runs runs one after another and writes their snapshots.
std::vector<RunSummary> train_base(Backend& backend, const Dataset& dataset,
                                   const BaseTrainingOptions& options);

// The batch indices (0-based, counted within an epoch) after which a snapshot is taken, in order;
// the last is always batches_per_epoch - 1 (the end of the epoch).
std::vector<int64_t> snapshot_batches(int64_t batches_per_epoch, int snapshots_per_epoch);

}  // namespace twp
