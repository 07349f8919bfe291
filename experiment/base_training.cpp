// The base training loop; see base_training.hpp for what it reproduces.
#include "experiment/base_training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <cstdlib>
#include <optional>
#include <string>

#include <zlib.h>

#include "engine/random.hpp"
#include "experiment/progress.hpp"
#include "experiment/snapshots.hpp"

namespace twp {

DeviceImageSet::DeviceImageSet(Backend& backend, const ImageSet& set)
    : count(set.count), images(backend, set.count * set.rows * set.cols),
      labels(backend, set.count) {
    TWP_CHECK(set.rows == LeNet5::kImageSize && set.cols == LeNet5::kImageSize,
              "LeNet-5 takes 28x28 images, the dataset has " << set.rows << "x" << set.cols);
    images.upload(set.pixels);
    labels.upload(set.labels);
}

std::vector<int64_t> snapshot_batches(int64_t batches_per_epoch, int snapshots_per_epoch) {
    std::vector<int64_t> batches;
    // The reference: save_interval = total // N; save after batch_idx when batch_idx > 0,
    // batch_idx % save_interval == 0 and batch_idx < total - 1; then always at the end.
    if (snapshots_per_epoch > 1) {
        const int64_t interval = batches_per_epoch / snapshots_per_epoch;
        if (interval > 0)
            for (int64_t b = interval; b < batches_per_epoch - 1; b += interval) batches.push_back(b);
    }
    batches.push_back(batches_per_epoch - 1);
    return batches;
}

Evaluation evaluate(Backend& backend, LeNet5& model, const DeviceImageSet& set, int64_t batch_size) {
    batch_size = std::min(batch_size, model.max_batch());
    Buffer<float> losses(backend, batch_size);
    Buffer<int32_t> correct(backend, batch_size);
    std::vector<float> host_losses(batch_size);
    std::vector<int32_t> host_correct(batch_size);
    double loss_sum = 0;
    int64_t hits = 0;
    const Tensor images = set.image_view();
    for (int64_t start = 0; start < set.count; start += batch_size) {
        const int64_t n = std::min(batch_size, set.count - start);
        const Tensor batch{images.data + start * 28 * 28, {n, 1, 28, 28}};
        const IndexTensor labels{set.labels.data() + start, {n}};
        model.forward(batch, Pass::kInference);
        model.loss(labels, losses.view({n}), correct.view({n}));
        losses.download(host_losses.data(), n);
        correct.download(host_correct.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            loss_sum += host_losses[i];
            hits += host_correct[i];
        }
    }
    return {loss_sum / double(set.count), 100.0 * double(hits) / double(set.count)};
}

namespace {

// The shortest text that reads back as exactly this float ("0.005", not "0.00499999989").
std::string float_text(float value) {
    char text[32];
    for (int digits = 6; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, double(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

// What a run is: a checkpoint written under other settings cannot continue bit for bit.
std::map<std::string, std::string> run_settings(const Dataset& dataset, const BaseTrainingOptions& options,
                                                int run, uint64_t seed, int64_t train_images) {
    return {{"run", std::to_string(run)},
            {"seed", std::to_string(seed)},
            {"dataset", dataset.name},
            {"train_images", std::to_string(train_images)},
            {"train_labels_crc32", std::to_string(crc32_z(0, reinterpret_cast<const Bytef*>(dataset.train.labels.data()),
                                                          dataset.train.labels.size() * sizeof(dataset.train.labels[0])))},
            {"batch_size", std::to_string(options.batch_size)},
            {"epochs", std::to_string(options.epochs)},
            {"snapshots_per_epoch", std::to_string(options.snapshots_per_epoch)},
            {"learning_rate", float_text(options.sgd.learning_rate)},
            {"momentum", float_text(options.sgd.momentum)},
            {"weight_decay", float_text(options.sgd.weight_decay)}};
}

// The flag behind each setting, for the message when a resume does not match.
std::string setting_flag(const std::string& key) {
    if (key == "seed") return " (--random_seed)";
    if (key == "dataset") return " (--dataset)";
    if (key == "train_images" || key == "train_labels_crc32") return " (--data_dir)";
    if (key == "epochs") return " (--training_epochs)";
    if (key == "snapshots_per_epoch") return " (--snapshots_per_epoch)";
    if (key == "learning_rate") return " (--base_learning_rate)";
    return "";
}

// For --resume: the run's checkpoint, checked against this command and the run's index, with the
// index cut back to it (a crash between the index and the checkpoint leaves one snapshot more)
// and stray files removed. None when the run has no checkpoint yet: it starts afresh.
std::optional<BaseCheckpoint> find_resume_point(const std::filesystem::path& dir,
                                                const std::map<std::string, std::string>& settings, int run,
                                                RunIndex& index) {
    std::error_code error;
    if (!std::filesystem::exists(base_checkpoint_path(dir), error)) {
        if (std::filesystem::exists(dir, error))
            std::fprintf(stderr, "run %d: no checkpoint in %s yet: starting the run afresh\n", run, dir.string().c_str());
        return std::nullopt;
    }
    const std::string what = "cannot resume run " + std::to_string(run) + " from " +
                             base_checkpoint_path(dir).string();
    const std::string fresh = "start it afresh without --resume (which replaces its snapshots)";
    remove_stale_temporaries(dir);
    BaseCheckpoint checkpoint;
    try {
        checkpoint = read_base_checkpoint(dir);
    } catch (const Error& e) {
        TWP_FAIL(what << ": " << e.what() << "; " << fresh);
    }
    for (const auto& [key, value] : settings) {
        const auto found = checkpoint.settings.find(key);
        const std::string written = found == checkpoint.settings.end() ? "(none)" : found->second;
        if (written != value)
            TWP_FAIL(what << ": it was written with " << key << " " << written << setting_flag(key)
                          << ", this command has " << value << ": resume with the flags the run was started with, or "
                          << fresh);
    }
    if (!std::filesystem::exists(dir / "index.json", error))
        TWP_FAIL(what << ": " << (dir / "index.json").string() << " is missing; " << fresh);
    index = RunIndex::load(dir);
    bool listed = false;
    for (const SnapshotRecord& r : index.records())
        listed = listed || (r.step == checkpoint.step && r.epoch == checkpoint.epoch &&
                            r.batch_in_epoch == checkpoint.batch_in_epoch);
    if (!listed)
        TWP_FAIL(what << ": its step " << checkpoint.step << " is no snapshot of " << (dir / "index.json").string()
                      << "; " << fresh);
    index.truncate_after(checkpoint.step);
    return checkpoint;
}

std::string value_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

int64_t first_non_finite(const float* values, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) return i;
    return -1;
}

// Where training stands, for the numerical fault message.
struct FaultContext {
    const BaseTrainingOptions& options;
    const RunIndex& index;
    int run;
    int epoch;
    int64_t batches_per_epoch;

    [[noreturn]] void fail(int64_t step, const std::string& what) const {
        const int64_t batch = step - (int64_t(epoch) - 1) * batches_per_epoch;
        const std::string kept =
            index.records().empty()
                ? "no snapshot of this run had been written"
                : "its last good snapshot, " + (index.directory() / index.records().back().file).string() +
                      " (step " + std::to_string(index.records().back().step) + "), and those before it stay";
        TWP_FAIL("run " << run << ", epoch " << epoch << ", step " << step << " (batch " << batch << " of "
                        << batches_per_epoch << "): " << what << ". Training stopped: " << kept
                        << ". The optimization diverged: try a lower learning rate (--base_learning_rate, now "
                        << options.sgd.learning_rate
                        << "), without --resume: resuming continues from the same state towards the same fault)");
    }
};

RunSummary train_run(Backend& backend, const Dataset& dataset, const DeviceImageSet& train,
                     const DeviceImageSet& test, const BaseTrainingOptions& options, int run) {
    const auto start_time = std::chrono::steady_clock::now();
    const uint64_t seed = options.random_seed + uint64_t(run) - 1;
    const int64_t batch = options.batch_size;
    const int64_t batches_per_epoch = (train.count + batch - 1) / batch;  // the last may be short
    const std::vector<int64_t> snapshot_after = snapshot_batches(batches_per_epoch, options.snapshots_per_epoch);
    const std::filesystem::path dir = run_directory(options.snapshot_dir, run);
    const std::map<std::string, std::string> settings = run_settings(dataset, options, run, seed, train.count);

    RunSummary summary;
    summary.run = run;
    summary.seed = seed;
    summary.directory = dir;
    RunIndex index(dir);
    std::optional<BaseCheckpoint> resume;
    if (options.resume) resume = find_resume_point(dir, settings, run, index);
    if (resume && resume->complete) {
        const SnapshotRecord& last = index.records().back();
        std::fprintf(stderr, "run %d/%d: already complete (step %lld) in %s\n", run, options.num_runs,
                     static_cast<long long>(resume->step), dir.string().c_str());
        summary.snapshots = int(index.records().size());
        summary.final_test = {last.test_loss, last.test_accuracy};
        summary.already_complete = true;
        summary.resumed_at_step = resume->step;
        return summary;
    }
    if (!resume) index = RunIndex::start_fresh(dir);

    LeNet5 model(backend, std::max(batch, options.test_batch_size));
    model.initialize(seed);
    Buffer<float> momentum(backend, LeNet5::kParameterCount);
    backend.fill(momentum.view(), 0.0f);

    Buffer<float> batch_images(backend, batch * 28 * 28);
    Buffer<int32_t> batch_labels(backend, batch);
    // The step works on fixed buffers, so that it can be captured once and replayed: the batch's
    // rows are copied in from the epoch's order, its losses and correct flags out to the epoch's.
    Buffer<int32_t> step_rows(backend, batch);
    Buffer<float> step_losses(backend, batch);
    Buffer<int32_t> step_correct(backend, batch);
    Buffer<int32_t> order(backend, train.count);             // this epoch's shuffled rows
    Buffer<float> epoch_losses(backend, train.count);        // each sample's training loss
    Buffer<int32_t> epoch_correct(backend, train.count);
    std::vector<int32_t> host_order(train.count);
    std::vector<float> host_losses(train.count);
    std::vector<float> parameters(LeNet5::kParameterCount);
    Rng shuffle_rng(seed, RngStream::kShuffle);

    int64_t step = 0;
    int first_epoch = 1;
    int64_t first_batch = 0;  // > 0: the first epoch continues from the checkpoint's order
    Evaluation last_test;
    if (resume) {
        const BaseCheckpoint& c = *resume;
        const int64_t done = std::min(c.batch_in_epoch * batch, train.count);
        TWP_CHECK(shuffle_rng.set_state(c.shuffle) && c.batch_in_epoch <= batches_per_epoch &&
                      (c.batch_in_epoch == batches_per_epoch ||
                       (int64_t(c.epoch_order.size()) == train.count && int64_t(c.epoch_losses.size()) == done)),
                  base_checkpoint_path(dir).string() << " does not fit this run's epochs; start the run afresh "
                                                        "without --resume");
        model.parameters().upload(c.parameters);
        momentum.upload(c.momentum);
        step = c.step;
        last_test = {index.records().back().test_loss, index.records().back().test_accuracy};
        if (c.batch_in_epoch < batches_per_epoch) {
            first_epoch = c.epoch;
            first_batch = c.batch_in_epoch;
            host_order = c.epoch_order;
            epoch_losses.upload(c.epoch_losses.data(), done);
            epoch_correct.upload(c.epoch_correct.data(), done);
        } else {
            first_epoch = c.epoch + 1;
        }
        summary.resumed_at_step = step;
    }
    const int64_t images_before = (int64_t(first_epoch) - 1) * train.count + std::min(first_batch * batch, train.count);

    if (resume)
        std::fprintf(stderr, "run %d/%d: seed %llu, resuming at epoch %d, batch %lld (step %lld) -> %s\n", run,
                     options.num_runs, static_cast<unsigned long long>(seed), first_epoch,
                     static_cast<long long>(first_batch), static_cast<long long>(step), dir.string().c_str());
    else
        std::fprintf(stderr, "run %d/%d: seed %llu, %d epochs, snapshots per epoch: %zu -> %s\n", run,
                     options.num_runs, static_cast<unsigned long long>(seed), options.epochs,
                     snapshot_after.size(), dir.string().c_str());
    Progress progress("run " + std::to_string(run), int64_t(options.epochs) * train.count - images_before, "img");
    // On the CPU the losses are host memory: looking at each batch's right away costs nothing and
    // stops a diverged run at once. A device backend looks at snapshots only (no per-step copies).
    const bool check_each_step = options.check_each_step_on_host && backend.memory_is_host();
    // One training step over the first n rows of step_rows: gather, forward, loss, backward, SGD.
    const auto train_step = [&](int64_t n) {
        const Tensor images = batch_images.view({n, 1, 28, 28});
        const IndexTensor labels = batch_labels.view({n});
        backend.gather_rows(train.image_view(), step_rows.view({n}), images);
        backend.gather_labels(train.labels.view(), step_rows.view({n}), labels);
        model.forward(images);
        model.loss(labels, step_losses.view({n}), step_correct.view({n}));
        model.backward(images, labels);
        backend.sgd_update(model.parameters().view(), model.gradients().view(), momentum.view(), options.sgd);
    };
    // Full batches replay the captured step where the backend captures (a CUDA graph); a short
    // last batch runs op by op. The capture comes after one full step has run op by op, so that
    // whatever a first call sets up (a GPU loads each kernel's module at its first launch) happens
    // outside it; a backend that cannot capture the step runs it op by op, with one line saying so.
    std::unique_ptr<CapturedWork> captured_step;
    bool capture_tried = !options.capture_step;
    bool full_step_done = false;
    const auto capture_step = [&] {
        capture_tried = true;
        try {
            captured_step = backend.capture([&] { train_step(batch); });
        } catch (const Error& e) {
            std::fprintf(stderr, "run %d/%d: the training step could not be captured (%s); running it op by op\n",
                         run, options.num_runs, e.what());
        }
    };
    for (int epoch = first_epoch; epoch <= options.epochs; ++epoch) {
        const bool continuing = epoch == first_epoch && first_batch > 0;
        if (!continuing) {
            // Fisher-Yates from the run's shuffle stream: a fresh order every epoch.
            std::iota(host_order.begin(), host_order.end(), 0);
            for (int64_t i = train.count - 1; i > 0; --i)
                std::swap(host_order[i], host_order[shuffle_rng.below(uint32_t(i + 1))]);
        }
        order.upload(host_order);
        const FaultContext fault{options, index, run, epoch, batches_per_epoch};
        const int64_t epoch_step = (int64_t(epoch) - 1) * batches_per_epoch;  // steps before this epoch
        const int64_t start_batch = continuing ? first_batch : 0;
        size_t next_snapshot = 0;
        while (next_snapshot < snapshot_after.size() && snapshot_after[next_snapshot] < start_batch) ++next_snapshot;
        for (int64_t b = start_batch; b < batches_per_epoch; ++b) {
            const int64_t first = b * batch, n = std::min(batch, train.count - first);
            backend.copy_device(step_rows.data(), order.data() + first, sizeof(int32_t) * n);
            if (n == batch && full_step_done && !capture_tried) capture_step();
            if (n == batch && captured_step)
                backend.replay(*captured_step);
            else
                train_step(n);
            full_step_done = full_step_done || n == batch;
            backend.copy_device(epoch_losses.data() + first, step_losses.data(), sizeof(float) * n);
            backend.copy_device(epoch_correct.data() + first, step_correct.data(), sizeof(int32_t) * n);
            ++step;
            if (check_each_step) {
                epoch_losses.download(host_losses.data() + first, n, first);
                const int64_t bad = first_non_finite(host_losses.data() + first, n);
                if (bad >= 0) fault.fail(step, "the training loss became " + value_text(host_losses[first + bad]));
            }
            if (options.show_progress) progress.update((int64_t(epoch) - 1) * train.count + first + n - images_before);

            if (next_snapshot < snapshot_after.size() && snapshot_after[next_snapshot] == b) {
                ++next_snapshot;
                // Nothing non-finite reaches a snapshot: the losses of the epoch so far, the
                // parameters and the test loss are looked at before anything is written.
                const int64_t done = first + n;
                epoch_losses.download(host_losses.data(), done);
                if (const int64_t bad = first_non_finite(host_losses.data(), done); bad >= 0)
                    fault.fail(epoch_step + bad / batch + 1,
                               "the training loss became " + value_text(host_losses[bad]));
                model.parameters().download(parameters.data(), LeNet5::kParameterCount);
                if (const int64_t bad = first_non_finite(parameters.data(), LeNet5::kParameterCount); bad >= 0) {
                    std::string name;
                    for (const ParamEntry& e : LeNet5::layout().entries())
                        if (bad >= e.offset && bad < e.offset + e.shape.numel()) name = e.name;
                    fault.fail(step, "the parameters became non-finite (" + name + " holds " +
                                         value_text(parameters[bad]) + ")");
                }
                last_test = evaluate(backend, model, test, options.test_batch_size);
                if (!std::isfinite(last_test.loss))
                    fault.fail(step, "the test loss became " + value_text(last_test.loss) +
                                         " (the network's outputs overflow)");
                SnapshotRecord record;
                record.file = snapshot_file_name(epoch, b + 1);
                record.run = run;
                record.epoch = epoch;
                record.step = step;
                record.batch_in_epoch = b + 1;
                record.epoch_fraction = double(b + 1) / double(batches_per_epoch);
                record.test_accuracy = last_test.accuracy;
                record.test_loss = last_test.loss;
                record.seed = seed;
                record.dataset = dataset.name;
                index.add(record, parameters);

                BaseCheckpoint checkpoint;
                checkpoint.settings = settings;
                checkpoint.epoch = epoch;
                checkpoint.batch_in_epoch = b + 1;
                checkpoint.step = step;
                checkpoint.shuffle = shuffle_rng.state();
                checkpoint.complete = epoch == options.epochs && b + 1 == batches_per_epoch;
                checkpoint.parameters = parameters;
                checkpoint.momentum = momentum.download();
                if (b + 1 < batches_per_epoch) {
                    checkpoint.epoch_order = host_order;
                    checkpoint.epoch_losses.assign(host_losses.begin(), host_losses.begin() + done);
                    checkpoint.epoch_correct.resize(done);
                    epoch_correct.download(checkpoint.epoch_correct.data(), done);
                }
                write_base_checkpoint(dir, checkpoint);
                if (int(index.records().size()) == options.stop_after_snapshot)
                    TWP_FAIL("run " << run << " stopped after snapshot " << options.stop_after_snapshot
                                    << " as asked (stop_after_snapshot)");
            }
        }
        epoch_losses.download(host_losses.data(), train.count);
        const double train_loss =
            std::accumulate(host_losses.begin(), host_losses.end(), 0.0) / double(train.count);
        char line[200];
        std::snprintf(line, sizeof line,
                      "run %d epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%",
                      run, epoch, options.epochs, train_loss, last_test.loss, last_test.accuracy);
        progress.print_line(line);
    }
    if (options.show_progress) progress.finish();

    summary.snapshots = int(index.records().size());
    summary.final_test = last_test;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    summary.train_images_per_second =
        double(int64_t(options.epochs) * train.count - images_before) / summary.seconds;
    return summary;
}

}  // namespace

std::vector<RunSummary> train_base(Backend& backend, const Dataset& dataset,
                                   const BaseTrainingOptions& options) {
    TWP_CHECK(options.epochs >= 1 && options.num_runs >= 1 && options.snapshots_per_epoch >= 1 &&
                  options.batch_size >= 1 && options.test_batch_size >= 1,
              "base training needs at least one epoch, run, snapshot and image per batch");
    const DeviceImageSet train(backend, dataset.train), test(backend, dataset.test);
    std::vector<RunSummary> summaries;
    for (int run = 1; run <= options.num_runs; ++run)
        summaries.push_back(train_run(backend, dataset, train, test, options, run));
    return summaries;
}

}  // namespace twp
