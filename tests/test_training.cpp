// Base training on the real MNIST files (tools/fetch-data.sh puts them in data/mnist): the
// accuracy the reference reaches, bit-for-bit determinism, and the twp binary's refusals.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "experiment/base_training.hpp"
#include "experiment/mnist.hpp"
#include "experiment/snapshots.hpp"

using namespace twp;
namespace fs = std::filesystem;

namespace {

const Dataset& mnist() {
    static const Dataset dataset = load_dataset(std::string(TWP_SOURCE_DIR) + "/data/mnist", "mnist");
    return dataset;
}

CpuBackend& backend() {
    static CpuBackend instance;
    return instance;
}

fs::path fresh_temp_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("twp_train_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first `train` training and `test` test images: a quick training set.
Dataset subset(int64_t train, int64_t test) {
    Dataset d = mnist();
    for (auto [set, n] : {std::pair{&d.train, train}, std::pair{&d.test, test}}) {
        set->count = n;
        set->pixels.resize(n * 28 * 28);
        set->labels.resize(n);
    }
    return d;
}

int run_twp(const std::string& arguments, const fs::path& log) {
    const std::string command = std::string(TWP_BINARY) + " " + arguments + " > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("one epoch of base training reaches 97% test accuracy", "[training][mnist]") {
    REQUIRE(mnist().train.count == 60000);
    REQUIRE(mnist().test.count == 10000);
    const fs::path dir = fresh_temp_dir("epoch");
    BaseTrainingOptions options;
    options.epochs = 1;
    options.num_runs = 1;
    options.snapshots_per_epoch = 2;
    options.snapshot_dir = dir;
    options.show_progress = false;
    const std::vector<RunSummary> runs = train_base(backend(), mnist(), options);
    REQUIRE(runs.size() == 1);
    CAPTURE(runs[0].final_test.accuracy, runs[0].final_test.loss);
    REQUIRE(runs[0].final_test.accuracy >= 97.0);
    REQUIRE(runs[0].final_test.loss < 0.12);

    const RunIndex index = RunIndex::load(run_directory(dir, 1));
    REQUIRE(index.records().size() == 2);
    REQUIRE(index.records()[0].file == "epoch_001_batch_00938.safetensors");  // after batch 937
    REQUIRE(index.records()[0].epoch_fraction == Approx(938.0 / 1875.0));
    REQUIRE(index.records()[1].file == "epoch_001_batch_01875.safetensors");
    REQUIRE(index.records()[1].step == 1875);
    REQUIRE(index.records()[1].test_accuracy == runs[0].final_test.accuracy);
    // The first snapshot is already a trained network, the second a better one.
    REQUIRE(index.records()[0].test_accuracy > 90.0);
    fs::remove_all(dir);
}

TEST_CASE("the same seed gives byte-identical snapshot files", "[training][mnist]") {
    const Dataset small = subset(3000, 1000);
    BaseTrainingOptions options;
    options.epochs = 2;
    options.num_runs = 2;
    options.snapshots_per_epoch = 3;
    options.show_progress = false;
    const fs::path a = fresh_temp_dir("det_a"), b = fresh_temp_dir("det_b"), c = fresh_temp_dir("det_c");
    options.snapshot_dir = a;
    train_base(backend(), small, options);
    options.snapshot_dir = b;
    train_base(backend(), small, options);
    options.snapshot_dir = c;
    options.random_seed = 1000;
    train_base(backend(), small, options);

    for (int run = 1; run <= 2; ++run) {
        const RunIndex index = RunIndex::load(run_directory(a, run));
        REQUIRE(index.records().size() == 6);
        for (const SnapshotRecord& r : index.records()) {
            CAPTURE(run, r.file);
            const std::string bytes = file_bytes(run_directory(a, run) / r.file);
            REQUIRE(bytes.size() > 61706 * 4);
            REQUIRE(bytes == file_bytes(run_directory(b, run) / r.file));
            REQUIRE(read_snapshot(run_directory(a, run) / r.file) !=
                    read_snapshot(run_directory(c, run) / r.file));
        }
        REQUIRE(file_bytes(run_directory(a, run) / "index.json") ==
                file_bytes(run_directory(b, run) / "index.json"));
    }
    // Runs differ from each other: run 2 is seeded random_seed + 1.
    REQUIRE(file_bytes(run_directory(a, 1) / "epoch_001_batch_00032.safetensors") !=
            file_bytes(run_directory(a, 2) / "epoch_001_batch_00032.safetensors"));
    for (const fs::path& dir : {a, b, c}) fs::remove_all(dir);
}

TEST_CASE("twp refuses bad input clearly and writes nothing", "[training][cli]") {
    const fs::path dir = fresh_temp_dir("cli");
    fs::create_directories(dir);
    const fs::path log = dir / "log.txt", snapshots = dir / "snapshots";
    const auto output = [&] { return file_bytes(log); };

    REQUIRE(run_twp("--mode train_base --num_runs 0 --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--num_runs must be at least 1"));

    REQUIRE(run_twp("--mode train_base --training_epochs -1 --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE(run_twp("--mode fly", log) == 2);
    REQUIRE(run_twp("--mode train_base --dataset cifar10", log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("mnist|fashion-mnist"));

    REQUIRE(run_twp("--mode train_base --data_dir " + (dir / "nowhere").string() +
                        " --snapshot_dir " + snapshots.string(), log) == 1);
    REQUIRE_THAT(output(), Catch::Contains("tools/fetch-data.sh"));

    REQUIRE(run_twp("--mode full --snapshot_dir " + snapshots.string(), log) == 1);
    REQUIRE_THAT(output(), Catch::Contains("--mode train_base"));

    REQUIRE_FALSE(fs::exists(snapshots));
    REQUIRE(run_twp("--help", log) == 0);
    REQUIRE_THAT(output(), Catch::Contains("--snapshots_per_epoch"));
    fs::remove_all(dir);
}
