// Loading runs of snapshots and cutting them into windows; see weight_dataset.hpp.
#include "experiment/weight_dataset.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "experiment/snapshots.hpp"

namespace twp {

int64_t WeightRuns::train_snapshots() const {
    int64_t n = 0;
    for (const RunSnapshots& r : runs) n += r.train_end;
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
        run.train_end = run.test_begin = run.split;
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
        const int64_t begin = train ? 0 : r.test_begin, end = train ? r.train_end : r.count;
        for (int64_t first = begin; first + k < end; ++first) windows.push_back({i, first});
    }
    return windows;
}

WeightRuns hold_out_run(WeightRuns runs, int held_out) {
    TWP_CHECK(held_out >= 0 && held_out < int(runs.runs.size()),
              "no run " << held_out + 1 << " to hold out: there are " << runs.runs.size());
    for (int i = 0; i < int(runs.runs.size()); ++i) {
        RunSnapshots& r = runs.runs[i];
        r.train_end = r.test_begin = i == held_out ? 0 : r.count;
    }
    return runs;
}

std::vector<Window> split_off_validation(std::vector<Window>& train, double fraction) {
    TWP_CHECK(fraction >= 0 && fraction < 1, "--validation_fraction must lie in [0, 1), got " << fraction);
    std::vector<Window> kept, validation;
    for (size_t begin = 0; begin < train.size();) {
        size_t end = begin;
        while (end < train.size() && train[end].run_index == train[begin].run_index) ++end;
        const int64_t n = int64_t(end - begin);
        const int64_t moved = std::min<int64_t>(n - 1, int64_t(std::ceil(fraction * double(n))));
        kept.insert(kept.end(), train.begin() + begin, train.begin() + (end - moved));
        validation.insert(validation.end(), train.begin() + (end - moved), train.begin() + end);
        begin = end;
    }
    train = std::move(kept);
    return validation;
}

}  // namespace twp
