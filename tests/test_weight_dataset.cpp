// The weight-sequence dataset on a hand-made set of runs: the chronological split per run, the
// windows (never across runs or the split), and the refusals for missing, empty or mismatched
// snapshot folders.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "experiment/lenet5.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/weight_dataset.hpp"

using namespace twp;
namespace fs = std::filesystem;

namespace {

// Run r's snapshot i holds the value 100 r + i everywhere, so each vector says where it came from.
fs::path make_runs(const std::vector<int>& counts) {
    const fs::path dir = fs::temp_directory_path() / ("twp_windows_" + std::to_string(getpid()));
    fs::remove_all(dir);
    for (size_t r = 0; r < counts.size(); ++r) {
        RunIndex index = RunIndex::start_fresh(run_directory(dir, int(r + 1)));
        for (int i = 0; i < counts[r]; ++i) {
            SnapshotRecord record;
            record.file = snapshot_file_name(i + 1, 10);
            record.run = int(r + 1);
            record.epoch = i + 1;
            record.epoch_fraction = 1.0;
            record.test_accuracy = 90 + i;
            record.dataset = "mnist";
            index.add(record, std::vector<float>(LeNet5::kParameterCount, float(100 * (r + 1) + i)));
        }
    }
    return dir;
}

}  // namespace

TEST_CASE("runs split chronologically, windows stay inside a run and a split", "[dataset]") {
    const fs::path dir = make_runs({5, 7});
    const WeightRuns runs = load_weight_runs(dir, 0.5);
    REQUIRE(runs.dim == LeNet5::kParameterCount);
    REQUIRE(runs.runs.size() == 2);
    REQUIRE(runs.runs[0].split == 2);  // int(5 * 0.5)
    REQUIRE(runs.runs[1].split == 3);  // int(7 * 0.5)
    REQUIRE(runs.train_snapshots() == 5);
    REQUIRE(runs.runs[1].vectors[4 * runs.dim] == 204.0f);  // run 2, snapshot 4, in training order
    REQUIRE(runs.runs[0].test_accuracy[3] == 93.0);

    const auto firsts = [](const std::vector<Window>& windows) {
        std::vector<std::pair<int, int64_t>> out;
        for (const Window& w : windows) out.push_back({w.run_index, w.first});
        return out;
    };
    // k = 1: train targets lie before the split, test windows start at it.
    REQUIRE(firsts(make_windows(runs, 1, true)) == std::vector<std::pair<int, int64_t>>{{0, 0}, {1, 0}, {1, 1}});
    REQUIRE(firsts(make_windows(runs, 1, false)) ==
            std::vector<std::pair<int, int64_t>>{{0, 2}, {0, 3}, {1, 3}, {1, 4}, {1, 5}});
    // k = 2: run 1's train part (2 snapshots) has no window; its test part (3) has one.
    REQUIRE(firsts(make_windows(runs, 2, true)) == std::vector<std::pair<int, int64_t>>{{1, 0}});
    REQUIRE(firsts(make_windows(runs, 2, false)) == std::vector<std::pair<int, int64_t>>{{0, 2}, {1, 3}, {1, 4}});
    REQUIRE(make_windows(runs, 4, false).empty());
    fs::remove_all(dir);
}

TEST_CASE("missing, empty and mismatched snapshot folders are refused clearly", "[dataset]") {
    using Catch::Contains;
    const fs::path dir = make_runs({3});
    REQUIRE_THROWS_WITH(load_weight_runs(dir / "nowhere", 0.5), Contains("no snapshots in"));
    REQUIRE_THROWS_WITH(load_weight_runs(dir, 1.0), Contains("--train_split"));
    REQUIRE_THROWS_WITH(load_weight_runs(dir, 0.0), Contains("--train_split"));
    fs::create_directories(dir / "empty" / "training_runs");
    REQUIRE_THROWS_WITH(load_weight_runs(dir / "empty", 0.5), Contains("no run_<r> folders"));
    // A run whose index lists nothing.
    RunIndex empty = RunIndex::start_fresh(run_directory(dir / "hollow", 1));
    SnapshotRecord record;
    record.file = "x.safetensors";
    record.dataset = "mnist";
    empty.add(record, std::vector<float>(LeNet5::kParameterCount, 0.0f));
    fs::remove(run_directory(dir / "hollow", 1) / "x.safetensors");
    REQUIRE_THROWS_WITH(load_weight_runs(dir / "hollow", 0.5), Contains("x.safetensors"));
    fs::remove_all(dir);
}
