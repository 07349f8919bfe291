// twp's entry point: parse the command line, pick the backend, run the mode. Every failure ends
// here as one clear message and a non-zero exit (2 for a usage mistake, 1 for anything else).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/cpu_backend.hpp"
#include "engine/device_probe.hpp"
#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/mnist.hpp"

namespace twp {
namespace {

// This version computes on the CPU; the CUDA backend comes next. Says which device was found and
// why it is not used, in one line.
void report_devices(const Config& config) {
    if (config.no_cuda) {
        std::fprintf(stderr, "twp: --no_cuda: running on the CPU\n");
        return;
    }
    const DeviceProbe probe = probe_devices();
    if (!probe.devices.empty()) {
        const CudaDevice& d = probe.devices.front();
        std::fprintf(stderr,
                     "twp: found %s (compute %d.%d, %.0f GiB); this version has no CUDA backend yet, "
                     "running on the CPU\n",
                     d.name.c_str(), d.major, d.minor, d.memory_gib);
    } else {
        std::fprintf(stderr, "twp: no usable GPU (%s): running on the CPU\n", probe.problem.c_str());
    }
}

int run(const Config& config) {
    if (config.mode != "train_base")
        TWP_FAIL("--mode " << config.mode
                           << " needs the predictor pipeline, which this version does not have yet; "
                              "run --mode train_base");
    // Everything that can be refused is checked before anything is written.
    const Dataset dataset = load_dataset(config.resolved_data_dir(), config.dataset);
    report_devices(config);
    CpuBackend backend(config.threads);
    std::fprintf(stderr, "twp: backend %s\n", backend.description().c_str());

    BaseTrainingOptions options;
    options.epochs = config.training_epochs;
    options.snapshots_per_epoch = config.snapshots_per_epoch;
    options.num_runs = config.num_runs;
    options.random_seed = config.random_seed;
    options.snapshot_dir = config.snapshot_dir;
    const std::vector<RunSummary> runs = train_base(backend, dataset, options);

    std::printf("Base training done: %d run%s of %d epochs on %s.\n", config.num_runs,
                config.num_runs > 1 ? "s" : "", config.training_epochs, dataset.name.c_str());
    for (const RunSummary& r : runs)
        std::printf("  run %d (seed %llu): final test accuracy %.2f%%, loss %.4f, %d snapshots, "
                    "%.0f s (%.0f img/s) in %s\n",
                    r.run, static_cast<unsigned long long>(r.seed), r.final_test.accuracy,
                    r.final_test.loss, r.snapshots, r.seconds, r.train_images_per_second,
                    r.directory.string().c_str());
    std::printf("Snapshots: %s (one index.json per run lists them in training order)\n",
                (std::filesystem::path(config.snapshot_dir) / "training_runs").string().c_str());
    return 0;
}

}  // namespace
}  // namespace twp

int main(int argc, char** argv) {
    try {
        const twp::Config config = twp::parse_args(std::vector<std::string>(argv + 1, argv + argc));
        if (config.help) {
            std::fputs(twp::usage_text().c_str(), stdout);
            return 0;
        }
        return twp::run(config);
    } catch (const twp::UsageError& e) {
        std::fprintf(stderr, "twp: %s\nRun `twp --help` for the options.\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "twp: error: %s\n", e.what());
        return 1;
    }
}
