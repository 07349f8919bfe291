// The base training loop; see base_training.hpp for what it reproduces.
#include "experiment/base_training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include <zlib.h>

#include "engine/random.hpp"
#include "experiment/numbers.hpp"
#include "experiment/progress.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/thread_tuner.hpp"
#include "experiment/training_settings.hpp"

namespace twp {

DeviceImageSet::DeviceImageSet(Backend& backend, const ImageSet& set)
    : count(set.count), images(backend, set.count * set.rows * set.cols),
      labels(backend, set.count) {
    TWP_CHECK(set.rows == LeNet5::kImageSize && set.cols == LeNet5::kImageSize,
              "LeNet-5 takes " << LeNet5::kImageSize << "x" << LeNet5::kImageSize << " images, the dataset has "
                               << set.rows << "x" << set.cols);
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
    constexpr int64_t side = LeNet5::kImageSize;
    for (int64_t start = 0; start < set.count; start += batch_size) {
        const int64_t n = std::min(batch_size, set.count - start);
        const Tensor batch{images.data + start * side * side, {n, 1, side, side}};
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

using Clock = std::chrono::steady_clock;
constexpr int64_t kImagePixels = LeNet5::kImageSize * LeNet5::kImageSize;

// What a run is: a checkpoint written under other settings cannot continue bit for bit.
Settings run_settings(const Dataset& dataset, const BaseTrainingOptions& options, int run, uint64_t seed,
                      int64_t train_images) {
    const uint32_t labels_crc = uint32_t(crc32_z(0, reinterpret_cast<const Bytef*>(dataset.train.labels.data()),
                                                 dataset.train.labels.size() * sizeof(dataset.train.labels[0])));
    return {{"batch_size", std::to_string(options.batch_size), ""},
            {"dataset", dataset.name, "--dataset"},
            {"epochs", std::to_string(options.epochs), "--training_epochs"},
            {"learning_rate", float_text(options.sgd.learning_rate), "--base_learning_rate"},
            {"momentum", float_text(options.sgd.momentum), ""},
            {"run", std::to_string(run), ""},
            {"seed", std::to_string(seed), "--random_seed"},
            {"snapshots_per_epoch", std::to_string(options.snapshots_per_epoch), "--snapshots_per_epoch"},
            {"train_images", std::to_string(train_images), "--data_dir"},
            {"train_labels_crc32", std::to_string(labels_crc), "--data_dir"},
            {"weight_decay", float_text(options.sgd.weight_decay), ""}};
}

// For --resume: the run's checkpoint, checked against this command and the run's index, with the
// index cut back to it (a crash between the index and the checkpoint leaves one snapshot more)
// and stray files removed. None when the run has no checkpoint yet: it starts afresh.
std::optional<BaseCheckpoint> find_resume_point(const std::filesystem::path& dir, const Settings& settings, int run,
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
    if (const auto mismatch = find_mismatch(settings, checkpoint.settings)) {
        const Setting& s = mismatch->setting;
        TWP_FAIL(what << ": it was written with " << s.key << " " << mismatch->written
                      << (s.flag.empty() ? "" : " (" + s.flag + ")") << ", this command has " << s.value
                      << ": resume with the flags the run was started with, or " << fresh);
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

// One run of base training: the model, its optimizer state, the step's fixed buffers and the
// loop's counters, with one function per part (restore, one epoch, take a snapshot).
class RunTrainer {
public:
    RunTrainer(Backend& backend, const Dataset& dataset, const DeviceImageSet& train, const DeviceImageSet& test,
               const BaseTrainingOptions& options, int run, ThreadTuner* tuner)
        : backend_(backend), dataset_(dataset), train_(train), test_(test), options_(options), run_(run),
          seed_(options.random_seed + uint64_t(run) - 1), batch_(options.batch_size),
          batches_per_epoch_((train.count + batch_ - 1) / batch_),  // the last may be short
          snapshot_after_(snapshot_batches(batches_per_epoch_, options.snapshots_per_epoch)),
          dir_(run_directory(options.snapshot_dir, run)), settings_(run_settings(dataset, options, run, seed_, train.count)),
          index_(dir_), tuner_(tuner) {}

    RunSummary run() {
        RunSummary summary;
        summary.run = run_;
        summary.seed = seed_;
        summary.directory = dir_;
        std::optional<BaseCheckpoint> resume;
        if (options_.resume) resume = find_resume_point(dir_, settings_, run_, index_);
        if (resume && resume->complete) {
            const SnapshotRecord& last = index_.records().back();
            std::fprintf(stderr, "run %d/%d: already complete (step %lld) in %s\n", run_, options_.num_runs,
                         static_cast<long long>(resume->step), dir_.string().c_str());
            summary.snapshots = int(index_.records().size());
            summary.final_test = {last.test_loss, last.test_accuracy};
            summary.already_complete = true;
            summary.resumed_at_step = resume->step;
            return summary;
        }
        if (!resume) index_ = RunIndex::start_fresh(dir_);
        allocate();
        if (resume) restore(*resume);
        if (options_.hook) options_.hook->begin_run(dir_, index_.records());
        summary.resumed_at_step = resume ? step_ : 0;
        const int64_t images_before =
            (int64_t(first_epoch_) - 1) * train_.count + std::min(first_batch_ * batch_, train_.count);
        if (resume)
            std::fprintf(stderr, "run %d/%d: seed %llu, resuming at epoch %d, batch %lld (step %lld) -> %s\n", run_,
                         options_.num_runs, static_cast<unsigned long long>(seed_), first_epoch_,
                         static_cast<long long>(first_batch_), static_cast<long long>(step_), dir_.string().c_str());
        else
            std::fprintf(stderr, "run %d/%d: seed %llu, %d epochs, snapshots per epoch: %zu -> %s\n", run_,
                         options_.num_runs, static_cast<unsigned long long>(seed_), options_.epochs,
                         snapshot_after_.size(), dir_.string().c_str());
        Progress progress("run " + std::to_string(run_), int64_t(options_.epochs) * train_.count - images_before, "img");
        for (int epoch = first_epoch_; epoch <= options_.epochs; ++epoch) run_epoch(epoch, progress, images_before);
        if (options_.show_progress) progress.finish();

        summary.snapshots = int(index_.records().size());
        summary.final_test = last_test_;
        summary.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
        summary.train_images_per_second = double(int64_t(options_.epochs) * train_.count - images_before) / summary.seconds;
        return summary;
    }

private:
    // The model and the step's fixed buffers: the step can be captured once and replayed, its
    // batch's rows copied in from the epoch's order, its losses and correct flags out to the epoch's.
    void allocate() {
        model_ = std::make_unique<LeNet5>(backend_, std::max(batch_, options_.test_batch_size));
        model_->initialize(seed_);
        momentum_.emplace(backend_, LeNet5::kParameterCount);
        backend_.fill(momentum_->view(), 0.0f);
        batch_images_.emplace(backend_, batch_ * kImagePixels);
        batch_labels_.emplace(backend_, batch_);
        step_rows_.emplace(backend_, batch_);
        step_losses_.emplace(backend_, batch_);
        step_correct_.emplace(backend_, batch_);
        order_.emplace(backend_, train_.count);          // this epoch's shuffled rows
        epoch_losses_.emplace(backend_, train_.count);   // each sample's training loss
        epoch_correct_.emplace(backend_, train_.count);
        host_order_.resize(train_.count);
        host_losses_.resize(train_.count);
        parameters_.resize(LeNet5::kParameterCount);
    }

    // --resume: the model, the momentum and where the loop stands, from the checkpoint.
    void restore(const BaseCheckpoint& c) {
        const int64_t done = std::min(c.batch_in_epoch * batch_, train_.count);
        TWP_CHECK(shuffle_rng_.set_state(c.shuffle) && c.batch_in_epoch <= batches_per_epoch_ &&
                      (c.batch_in_epoch == batches_per_epoch_ ||
                       (int64_t(c.epoch_order.size()) == train_.count && int64_t(c.epoch_losses.size()) == done)),
                  base_checkpoint_path(dir_).string() << " does not fit this run's epochs; start the run afresh "
                                                         "without --resume");
        model_->parameters().upload(c.parameters);
        momentum_->upload(c.momentum);
        step_ = c.step;
        last_test_ = {index_.records().back().test_loss, index_.records().back().test_accuracy};
        if (c.batch_in_epoch < batches_per_epoch_) {
            first_epoch_ = c.epoch;
            first_batch_ = c.batch_in_epoch;
            host_order_ = c.epoch_order;
            epoch_losses_->upload(c.epoch_losses.data(), done);
            epoch_correct_->upload(c.epoch_correct.data(), done);
        } else {
            first_epoch_ = c.epoch + 1;
        }
    }

    // One training step over the first n rows of step_rows: gather, forward, loss, backward, SGD.
    void train_step(int64_t n) {
        const Tensor images = batch_images_->view({n, 1, LeNet5::kImageSize, LeNet5::kImageSize});
        const IndexTensor labels = batch_labels_->view({n});
        backend_.gather_rows(train_.image_view(), step_rows_->view({n}), images);
        backend_.gather_labels(train_.labels.view(), step_rows_->view({n}), labels);
        model_->forward(images);
        model_->loss(labels, step_losses_->view({n}), step_correct_->view({n}));
        model_->backward(images, labels);
        backend_.sgd_update(model_->parameters().view(), model_->gradients().view(), momentum_->view(), options_.sgd);
    }

    // Full batches replay the captured step where the backend captures (a CUDA graph); a short
    // last batch runs op by op. The capture comes after one full step has run op by op, so that
    // whatever a first call sets up (a GPU loads each kernel's module at its first launch) happens
    // outside it; a backend that cannot capture the step runs it op by op, with one line saying so.
    void step(int64_t n) {
        if (n == batch_ && full_step_done_ && !capture_tried_) {
            capture_tried_ = true;
            try {
                captured_step_ = backend_.capture([&] { train_step(batch_); });
            } catch (const Error& e) {
                std::fprintf(stderr, "run %d/%d: the training step could not be captured (%s); running it op by op\n",
                             run_, options_.num_runs, e.what());
            }
        }
        if (n == batch_ && captured_step_)
            backend_.replay(*captured_step_);
        else
            train_step(n);
        full_step_done_ = full_step_done_ || n == batch_;
    }

    // Where training stands, for the numerical fault message.
    [[noreturn]] void fail(int epoch, int64_t step, const std::string& what) const {
        const int64_t batch = step - (int64_t(epoch) - 1) * batches_per_epoch_;
        const std::string kept =
            index_.records().empty()
                ? "no snapshot of this run had been written"
                : "its last good snapshot, " + (index_.directory() / index_.records().back().file).string() +
                      " (step " + std::to_string(index_.records().back().step) + "), and those before it stay";
        TWP_FAIL("run " << run_ << ", epoch " << epoch << ", step " << step << " (batch " << batch << " of "
                        << batches_per_epoch_ << "): " << what << ". Training stopped: " << kept
                        << ". The optimization diverged: try a lower learning rate (--base_learning_rate, now "
                        << options_.sgd.learning_rate
                        << "), without --resume: resuming continues from the same state towards the same fault)");
    }

    void run_epoch(int epoch, Progress& progress, int64_t images_before) {
        const bool continuing = epoch == first_epoch_ && first_batch_ > 0;
        if (!continuing) {
            // Fisher-Yates from the run's shuffle stream: a fresh order every epoch.
            std::iota(host_order_.begin(), host_order_.end(), 0);
            for (int64_t i = train_.count - 1; i > 0; --i)
                std::swap(host_order_[i], host_order_[shuffle_rng_.below(uint32_t(i + 1))]);
        }
        order_->upload(host_order_);
        const int64_t start_batch = continuing ? first_batch_ : 0;
        size_t next_snapshot = 0;
        while (next_snapshot < snapshot_after_.size() && snapshot_after_[next_snapshot] < start_batch) ++next_snapshot;
        // On the CPU the losses are host memory: looking at each batch's right away costs nothing
        // and stops a diverged run at once. A device backend looks at snapshots only.
        const bool check_each_step = options_.check_each_step_on_host && backend_.memory_is_host();
        for (int64_t b = start_batch; b < batches_per_epoch_; ++b) {
            const int64_t first = b * batch_, n = std::min(batch_, train_.count - first);
            backend_.copy_device(step_rows_->data(), order_->data() + first, sizeof(int32_t) * n);
            if (tuner_) {
                // The CPU backend's ops are synchronous: the step's wall time is its cost.
                backend_.use_threads(tuner_->threads());
                const auto started = Clock::now();
                step(n);
                tuner_->record(std::chrono::duration<double>(Clock::now() - started).count());
            } else {
                step(n);
            }
            backend_.copy_device(epoch_losses_->data() + first, step_losses_->data(), sizeof(float) * n);
            backend_.copy_device(epoch_correct_->data() + first, step_correct_->data(), sizeof(int32_t) * n);
            ++step_;
            if (check_each_step) {
                epoch_losses_->download(host_losses_.data() + first, n, first);
                const int64_t bad = first_non_finite(host_losses_.data() + first, n);
                if (bad >= 0) fail(epoch, step_, "the training loss became " + number_text(host_losses_[first + bad]));
            }
            if (options_.show_progress) progress.update((int64_t(epoch) - 1) * train_.count + first + n - images_before);
            if (next_snapshot < snapshot_after_.size() && snapshot_after_[next_snapshot] == b) {
                ++next_snapshot;
                take_snapshot(epoch, b, first + n);
            }
        }
        epoch_losses_->download(host_losses_.data(), train_.count);
        const double train_loss = std::accumulate(host_losses_.begin(), host_losses_.end(), 0.0) / double(train_.count);
        char line[200];
        std::snprintf(line, sizeof line, "run %d epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%",
                      run_, epoch, options_.epochs, train_loss, last_test_.loss, last_test_.accuracy);
        progress.print_line(line);
    }

    // After batch b of `epoch` (`done` samples of the epoch trained): nothing non-finite reaches a
    // snapshot, so the losses of the epoch so far, the parameters and the test loss are looked at
    // first; then the snapshot, its index entry and the run's checkpoint are written.
    void take_snapshot(int epoch, int64_t b, int64_t done) {
        const int64_t epoch_step = (int64_t(epoch) - 1) * batches_per_epoch_;  // steps before this epoch
        const bool last = epoch == options_.epochs && b + 1 == batches_per_epoch_;
        if (options_.hook)
            options_.hook->before_snapshot({run_, epoch, b + 1, step_, last, model_->parameters().view(),
                                            momentum_->view(), *model_, test_, options_.test_batch_size});
        epoch_losses_->download(host_losses_.data(), done);
        if (const int64_t bad = first_non_finite(host_losses_.data(), done); bad >= 0)
            fail(epoch, epoch_step + bad / batch_ + 1, "the training loss became " + number_text(host_losses_[bad]));
        model_->parameters().download(parameters_.data(), LeNet5::kParameterCount);
        if (const int64_t bad = first_non_finite(parameters_.data(), LeNet5::kParameterCount); bad >= 0)
            fail(epoch, step_, "the parameters became non-finite (" + LeNet5::layout().entry_at(bad).name + " holds " +
                                   number_text(parameters_[bad]) + ")");
        last_test_ = evaluate(backend_, *model_, test_, options_.test_batch_size);
        if (!std::isfinite(last_test_.loss))
            fail(epoch, step_, "the test loss became " + number_text(last_test_.loss) + " (the network's outputs overflow)");
        SnapshotRecord record;
        record.file = snapshot_file_name(epoch, b + 1);
        record.run = run_;
        record.epoch = epoch;
        record.step = step_;
        record.batch_in_epoch = b + 1;
        record.epoch_fraction = double(b + 1) / double(batches_per_epoch_);
        record.test_accuracy = last_test_.accuracy;
        record.test_loss = last_test_.loss;
        record.seed = seed_;
        record.dataset = dataset_.name;
        index_.add(record, parameters_);

        BaseCheckpoint checkpoint;
        checkpoint.settings = settings_metadata(settings_);
        checkpoint.epoch = epoch;
        checkpoint.batch_in_epoch = b + 1;
        checkpoint.step = step_;
        checkpoint.shuffle = shuffle_rng_.state();
        checkpoint.complete = last;
        checkpoint.parameters = parameters_;
        checkpoint.momentum = momentum_->download();
        if (b + 1 < batches_per_epoch_) {
            checkpoint.epoch_order = host_order_;
            checkpoint.epoch_losses.assign(host_losses_.begin(), host_losses_.begin() + done);
            checkpoint.epoch_correct.resize(done);
            epoch_correct_->download(checkpoint.epoch_correct.data(), done);
        }
        write_base_checkpoint(dir_, checkpoint);
        if (int(index_.records().size()) == options_.stop_after_snapshot)
            TWP_FAIL("run " << run_ << " stopped after snapshot " << options_.stop_after_snapshot
                            << " as asked (stop_after_snapshot)");
    }

    Backend& backend_;
    const Dataset& dataset_;
    const DeviceImageSet& train_;
    const DeviceImageSet& test_;
    const BaseTrainingOptions& options_;
    const int run_;
    const Clock::time_point start_ = Clock::now();
    const uint64_t seed_;
    const int64_t batch_, batches_per_epoch_;
    const std::vector<int64_t> snapshot_after_;
    const std::filesystem::path dir_;
    const Settings settings_;
    RunIndex index_;
    Rng shuffle_rng_{seed_, RngStream::kShuffle};

    std::unique_ptr<LeNet5> model_;
    std::optional<Buffer<float>> momentum_, batch_images_, step_losses_, epoch_losses_;
    std::optional<Buffer<int32_t>> batch_labels_, step_rows_, step_correct_, order_, epoch_correct_;
    std::vector<int32_t> host_order_;
    std::vector<float> host_losses_, parameters_;

    int64_t step_ = 0;
    int first_epoch_ = 1;
    int64_t first_batch_ = 0;  // > 0: the first epoch continues from the checkpoint's order
    Evaluation last_test_;
    ThreadTuner* tuner_;  // null: the backend's threads as they are
    std::unique_ptr<CapturedWork> captured_step_;
    bool capture_tried_ = !options_.capture_step;
    bool full_step_done_ = false;
};

}  // namespace

std::vector<RunSummary> train_base(Backend& backend, const Dataset& dataset,
                                   const BaseTrainingOptions& options) {
    TWP_CHECK(options.epochs >= 1 && options.num_runs >= 1 && options.snapshots_per_epoch >= 1 &&
                  options.batch_size >= 1 && options.test_batch_size >= 1,
              "base training needs at least one epoch, run, snapshot and image per batch");
    const DeviceImageSet train(backend, dataset.train), test(backend, dataset.test);
    // One tuner for all runs: whatever shares the machine outlasts a run. The stages after this
    // one get all the backend's threads back, however training ends.
    std::optional<ThreadTuner> tuner;
    if (options.tune_threads && backend.max_threads() > 1) tuner.emplace(backend.max_threads());
    struct RestoreThreads {
        Backend& backend;
        bool tuned;
        ~RestoreThreads() {
            if (tuned) backend.use_threads(backend.max_threads());
        }
    } restore{backend, tuner.has_value()};
    std::vector<RunSummary> summaries;
    for (int run = 1; run <= options.num_runs; ++run)
        summaries.push_back(RunTrainer(backend, dataset, train, test, options, run, tuner ? &*tuner : nullptr).run());
    return summaries;
}

}  // namespace twp
