// Loading runs of snapshots and cutting them into windows; see weight_dataset.hpp.
#include "experiment/weight_dataset.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "experiment/snapshots.hpp"

namespace twp {

int64_t WeightRuns::train_snapshots() const {
    int64_t n = 0;
    for (const RunSnapshots& r : runs) n += r.split;
    return n;
}

WeightRuns load_weight_runs(const std::filesystem::path& snapshot_dir, double train_split) {
    TWP_CHECK(train_split > 0 && train_split < 1,
              "--train_split must lie strictly between 0 and 1, got " << train_split);
    const std::filesystem::path runs_dir = snapshot_dir / "training_runs";
    std::error_code error;
    if (!std::filesystem::is_directory(runs_dir, error))
        TWP_FAIL("no snapshots in " << runs_dir.string()
                                    << ": run `twp --mode train_base --snapshot_dir "
                                    << snapshot_dir.string() << "` first (or point --snapshot_dir at them)");
    std::vector<int> run_numbers;
    for (const auto& entry : std::filesystem::directory_iterator(runs_dir)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_directory() || name.rfind("run_", 0) != 0) continue;
        try {
            size_t used = 0;
            const int number = std::stoi(name.substr(4), &used);
            if (used == name.size() - 4 && number > 0) run_numbers.push_back(number);
        } catch (const std::exception&) {
        }
    }
    std::sort(run_numbers.begin(), run_numbers.end());
    if (run_numbers.empty()) TWP_FAIL("no run_<r> folders in " << runs_dir.string());

    WeightRuns result;
    for (const int number : run_numbers) {
        const std::filesystem::path dir = run_directory(snapshot_dir, number);
        const RunIndex index = RunIndex::load(dir);
        TWP_CHECK(!index.records().empty(), (dir / "index.json").string() << " lists no snapshots");
        RunSnapshots run;
        run.run = number;
        run.count = int64_t(index.records().size());
        run.split = int64_t(std::floor(double(run.count) * train_split));
        run.dataset = index.records().front().dataset;
        for (const SnapshotRecord& record : index.records()) {
            const std::vector<float> vector = read_snapshot(dir / record.file);
            if (result.dim == 0) result.dim = int64_t(vector.size());
            TWP_CHECK(int64_t(vector.size()) == result.dim,
                      (dir / record.file).string() << " has " << vector.size() << " values, other snapshots "
                                                   << result.dim << ": all snapshots must have one shape");
            run.vectors.insert(run.vectors.end(), vector.begin(), vector.end());
            run.test_accuracy.push_back(record.test_accuracy);
            run.test_loss.push_back(record.test_loss);
            run.epoch_position.push_back(record.epoch - 1 + record.epoch_fraction);
        }
        result.runs.push_back(std::move(run));
    }
    return result;
}

std::vector<Window> make_windows(const WeightRuns& runs, int64_t k, bool train) {
    TWP_CHECK(k >= 1, "--sequence_length must be at least 1, got " << k);
    std::vector<Window> windows;
    for (int i = 0; i < int(runs.runs.size()); ++i) {
        const RunSnapshots& r = runs.runs[i];
        const int64_t begin = train ? 0 : r.split, end = train ? r.split : r.count;
        for (int64_t first = begin; first + k < end; ++first) windows.push_back({i, first});
    }
    return windows;
}

}  // namespace twp
