// The base training loop; see base_training.hpp for what it reproduces.
#include "experiment/base_training.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

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

RunSummary train_run(Backend& backend, const Dataset& dataset, const DeviceImageSet& train,
                     const DeviceImageSet& test, const BaseTrainingOptions& options, int run) {
    const auto start_time = std::chrono::steady_clock::now();
    const uint64_t seed = options.random_seed + uint64_t(run) - 1;
    const int64_t batch = options.batch_size;
    const int64_t batches_per_epoch = (train.count + batch - 1) / batch;  // the last may be short
    const std::vector<int64_t> snapshot_after = snapshot_batches(batches_per_epoch, options.snapshots_per_epoch);

    RunIndex index = RunIndex::start_fresh(run_directory(options.snapshot_dir, run));
    LeNet5 model(backend, std::max(batch, options.test_batch_size));
    model.initialize(seed);
    Buffer<float> momentum(backend, LeNet5::kParameterCount);
    backend.fill(momentum.view(), 0.0f);

    Buffer<float> batch_images(backend, batch * 28 * 28);
    Buffer<int32_t> batch_labels(backend, batch);
    Buffer<int32_t> order(backend, train.count);             // this epoch's shuffled rows
    Buffer<float> epoch_losses(backend, train.count);        // each sample's training loss
    Buffer<int32_t> epoch_correct(backend, train.count);
    std::vector<int32_t> host_order(train.count);
    std::vector<float> parameters(LeNet5::kParameterCount);
    Rng shuffle_rng(seed, RngStream::kShuffle);

    std::fprintf(stderr, "run %d/%d: seed %llu, %d epochs, snapshots per epoch: %zu -> %s\n", run,
                 options.num_runs, static_cast<unsigned long long>(seed), options.epochs,
                 snapshot_after.size(), index.directory().string().c_str());
    Progress progress("run " + std::to_string(run), int64_t(options.epochs) * train.count, "img");
    int64_t step = 0;
    Evaluation last_test;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        // Fisher-Yates from the run's shuffle stream: a fresh order every epoch.
        std::iota(host_order.begin(), host_order.end(), 0);
        for (int64_t i = train.count - 1; i > 0; --i)
            std::swap(host_order[i], host_order[shuffle_rng.below(uint32_t(i + 1))]);
        order.upload(host_order);
        size_t next_snapshot = 0;
        for (int64_t b = 0; b < batches_per_epoch; ++b) {
            const int64_t first = b * batch, n = std::min(batch, train.count - first);
            const IndexTensor rows{order.data() + first, {n}};
            const Tensor images = batch_images.view({n, 1, 28, 28});
            const IndexTensor labels = batch_labels.view({n});
            backend.gather_rows(train.image_view(), rows, images);
            backend.gather_labels(train.labels.view(), rows, labels);
            model.forward(images);
            model.loss(labels, Tensor{epoch_losses.data() + first, {n}},
                       IndexTensor{epoch_correct.data() + first, {n}});
            model.backward(images, labels);
            backend.sgd_update(model.parameters().view(), model.gradients().view(), momentum.view(),
                               options.sgd);
            ++step;
            if (options.show_progress) progress.update((epoch - 1) * train.count + first + n);

            if (next_snapshot < snapshot_after.size() && snapshot_after[next_snapshot] == b) {
                ++next_snapshot;
                last_test = evaluate(backend, model, test, options.test_batch_size);
                model.parameters().download(parameters.data(), LeNet5::kParameterCount);
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
            }
        }
        const std::vector<float> losses = epoch_losses.download();
        const double train_loss =
            std::accumulate(losses.begin(), losses.end(), 0.0) / double(train.count);
        char line[200];
        std::snprintf(line, sizeof line,
                      "run %d epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%",
                      run, epoch, options.epochs, train_loss, last_test.loss, last_test.accuracy);
        progress.print_line(line);
    }
    if (options.show_progress) progress.finish();

    RunSummary summary;
    summary.run = run;
    summary.seed = seed;
    summary.directory = index.directory();
    summary.snapshots = int(index.records().size());
    summary.final_test = last_test;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    summary.train_images_per_second = double(options.epochs) * double(train.count) / summary.seconds;
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
