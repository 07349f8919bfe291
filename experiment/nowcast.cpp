// The nowcasting experiment; see nowcast.hpp.
#include "experiment/nowcast.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/base_training.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/nowcast_hook.hpp"
#include "experiment/nowcast_results.hpp"
#include "experiment/numbers.hpp"
#include "experiment/predictor_checkpoint.hpp"
#include "experiment/results.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/stage_options.hpp"
#include "experiment/weight_dataset.hpp"

namespace twp {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr int kMinFitRuns = 2;
const char* const kControl = "control";
const char* const kPlanFile = "nowcast_plan.json";

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool needs_pca_space(const std::string& key) { return key == "seed" || key == "transformer"; }

// The fewest SGD steps between two snapshots (the schedule's intervals differ by a step or so
// where the batches do not divide evenly): the default --nowcast_every, a jump at every snapshot
// the history allows.
int64_t snapshot_interval(const Config& c, int64_t train_images) {
    const int64_t batch = BaseTrainingOptions{}.batch_size;
    const int64_t batches = (train_images + batch - 1) / batch;
    const std::vector<int64_t> after = snapshot_batches(batches, c.snapshots_per_epoch);
    int64_t interval = after.front() + 1 + (batches - 1 - after.back());  // across an epoch's end
    for (size_t i = 1; i < after.size(); ++i) interval = std::min(interval, after[i] - after[i - 1]);
    return interval;
}

// Runs with an index in <snapshot_dir>/training_runs.
int count_runs(const std::filesystem::path& snapshot_dir) {
    int runs = 0;
    std::error_code error;
    for (int r = 1; std::filesystem::exists(run_directory(snapshot_dir, r) / "index.json", error); ++r) ++runs;
    return runs;
}

Json plan_json(const Config& c, int64_t every) {
    Json seeds = Json::array();
    for (uint64_t s : nowcast_seeds(c)) seeds.push_back(s);
    return {{"forecasters", nowcast_keys(c)},
            {"seeds", seeds},
            {"nowcast_every", every},
            {"nowcast_horizon", c.nowcast_horizon},
            {"nowcast_momentum", c.nowcast_momentum},
            {"sequence_length", c.sequence_length},
            {"dataset", c.dataset},
            {"training_epochs", c.training_epochs},
            {"snapshots_per_epoch", c.snapshots_per_epoch},
            {"base_learning_rate", c.base_learning_rate},
            {"snapshot_dir", std::filesystem::absolute(c.snapshot_dir).lexically_normal().string()}};
}

// The newest experiment_* folder under results_dir with a nowcast plan and no results.json.
std::filesystem::path find_unfinished_nowcast(const std::filesystem::path& results_dir) {
    std::filesystem::path found;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(results_dir, error)) {
        const std::filesystem::path& dir = entry.path();
        if (dir.filename().string().rfind("experiment_", 0) != 0) continue;
        if (std::filesystem::exists(dir / kPlanFile, error) && !std::filesystem::exists(dir / "results.json", error) &&
            (found.empty() || dir > found))
            found = dir;
    }
    return found;
}

void check_plan_matches(const std::filesystem::path& dir, const Json& plan) {
    const std::filesystem::path path = dir / kPlanFile;
    std::ifstream in(path);
    Json written;
    try {
        written = Json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        TWP_FAIL("cannot resume " << dir.string() << ": " << path.string() << " is unreadable (" << e.what()
                                  << "); start a new experiment without --resume");
    }
    for (const auto& [key, value] : plan.items())
        if (!written.contains(key) || written[key] != value)
            TWP_FAIL("cannot resume " << dir.string() << ": it was started with " << key << " "
                                      << (written.contains(key) ? written[key].dump() : std::string("(none)"))
                                      << ", this command has " << value.dump()
                                      << ": resume with the flags it was started with, or start a new experiment "
                                         "without --resume");
}

// The forecast a jump goes to: `horizon` intervals ahead, in the weights where the forecaster
// forecasts them, else through the PCA fitted on the other runs.
JumpForecast jump_forecast(Backend& backend, Forecaster& forecaster, const FeatureSpace& space, int horizon) {
    return [&backend, &forecaster, &space, horizon](const std::vector<float>& weights, int64_t length) {
        const int64_t raw = space.raw_dim;
        if (forecaster.forecasts_weights()) {
            const std::vector<float> path = forecaster.forecast({weights.data(), length}, raw, horizon);
            return std::vector<float>(path.end() - raw, path.end());
        }
        const int64_t d = space.dim();
        const std::vector<float> scores = space.to_pca(backend, weights.data(), length);
        const std::vector<float> path = forecaster.forecast({scores.data(), length}, d, horizon);
        return space.from_pca(backend, path.data() + (path.size() - size_t(d)), 1);
    };
}

// The fitting runs: trained where missing or unfinished, then loaded with every snapshot train.
WeightRuns fitting_runs(Backend& backend, const Config& c, const Dataset& dataset) {
    {
        const FolderLock lock(c.snapshot_dir, "wait for it or use another --snapshot_dir");
        BaseTrainingOptions options = base_training_options(c);
        options.resume = true;  // complete runs are reused, unfinished ones finished
        try {
            train_base(backend, dataset, options);
        } catch (const Error& e) {
            TWP_FAIL("the runs to fit the forecasters on, in " << c.snapshot_dir << ": " << e.what());
        }
    }
    WeightRuns runs = load_weight_runs(c.snapshot_dir, c.train_split);
    TWP_CHECK(int(runs.runs.size()) >= kMinFitRuns,
              c.snapshot_dir << " holds " << runs.runs.size() << (runs.runs.size() == 1 ? " run" : " runs")
                             << "; the forecasters are fitted on "
                             << kMinFitRuns << " or more (--num_runs)");
    const std::vector<uint64_t> seeds = nowcast_seeds(c);
    for (RunSnapshots& r : runs.runs) {
        TWP_CHECK(r.dataset == dataset.name, "run " << r.run << " of " << c.snapshot_dir << " trained on " << r.dataset
                                                    << ", this nowcast on " << dataset.name
                                                    << ": use another --snapshot_dir");
        const uint64_t seed = RunIndex::load(run_directory(c.snapshot_dir, r.run)).records().front().seed;
        TWP_CHECK(std::find(seeds.begin(), seeds.end(), seed) == seeds.end(),
                  "run " << r.run << " of " << c.snapshot_dir << " has seed " << seed
                         << ", one of the nowcast runs' own: a forecaster is never fitted on the run it accelerates; "
                            "use another --random_seed or --snapshot_dir");
        r.train_end = r.test_begin = r.count;
    }
    return runs;
}

}  // namespace

std::vector<std::string> default_nowcasters() { return {"linear", "damped_trend", "ar_weight", "per_weight"}; }

std::vector<std::string> nowcast_keys(const Config& c) { return c.forecasters.empty() ? default_nowcasters() : c.forecasters; }

std::vector<uint64_t> nowcast_seeds(const Config& c) {
    std::vector<uint64_t> seeds;
    for (int i = 0; i < c.repeats; ++i) seeds.push_back(c.random_seed + kNowcastSeedOffset + uint64_t(i));
    return seeds;
}

void check_nowcast_config(const Config& c) {
    forecaster_registry().check_keys(c.forecasters);
    for (const std::string& key : nowcast_keys(c))
        if (needs_pca_space(key) && !c.apply_pca && LeNet5::kParameterCount > c.max_width)
            throw UsageError("--forecasters " + key + " needs --apply_pca: without it the transformer is as wide as the "
                             "weights (61,706)");
    if (c.split != "time")
        throw UsageError("--mode nowcast fits on other runs and accelerates new ones by itself: --split " + c.split +
                         " has no meaning there");
    if (!c.sweep.empty()) throw UsageError("--sweep runs full experiments; run --mode nowcast once per setting");
}

std::filesystem::path run_nowcast(Backend& backend, const Config& c, const Dataset& dataset,
                                  const std::string& device_note) {
    check_nowcast_config(c);
    if (count_runs(c.snapshot_dir) < kMinFitRuns && c.num_runs < kMinFitRuns)
        throw UsageError(c.snapshot_dir + " holds " + std::to_string(count_runs(c.snapshot_dir)) +
                         (count_runs(c.snapshot_dir) == 1 ? " run" : " runs") + ": the forecasters are fitted on other runs' trajectories, at least " +
                         std::to_string(kMinFitRuns) + " (give --num_runs " + std::to_string(kMinFitRuns) +
                         " or more to train them there)");
    {
        const int64_t batch = BaseTrainingOptions{}.batch_size;
        const int64_t per_run = int64_t(snapshot_batches((dataset.train.count + batch - 1) / batch,
                                                         c.snapshots_per_epoch).size()) * c.training_epochs;
        if (per_run - c.sequence_length < (c.validation_fraction > 0 ? 2 : 1))
            throw UsageError("each run will take " + std::to_string(per_run) + " snapshots: --sequence_length " +
                             std::to_string(c.sequence_length) + " leaves too few windows to fit the forecasters on " +
                             "(and validate them); take more epochs or --snapshots_per_epoch");
    }
    NowcastResults results;
    results.backend = backend.description();
    results.dataset = dataset.name;
    results.history = c.sequence_length;
    results.every = c.nowcast_every > 0 ? c.nowcast_every : snapshot_interval(c, dataset.train.count);
    results.horizon = c.nowcast_horizon;
    results.momentum = c.nowcast_momentum;
    results.targets = c.targets;
    results.seeds = nowcast_seeds(c);
    for (const std::string& a : c.arguments) results.command += (results.command.empty() ? "" : " ") + a;
    const std::vector<std::string> keys = nowcast_keys(c);
    results.keys.push_back(kControl);
    results.keys.insert(results.keys.end(), keys.begin(), keys.end());
    const Json plan = plan_json(c, results.every);

    bool resuming = false;
    if (c.resume) {
        results.dir = find_unfinished_nowcast(c.results_dir);
        resuming = !results.dir.empty();
        if (resuming) {
            check_plan_matches(results.dir, plan);
            std::fprintf(stderr, "twp: --resume: continuing the nowcast of %s\n", results.dir.string().c_str());
        } else {
            std::fprintf(stderr, "twp: --resume: no unfinished nowcast under %s: starting a new one\n",
                         c.results_dir.c_str());
        }
    }
    if (!resuming) {
        results.dir = create_experiment_dir(c.results_dir);
        write_config(results.dir, c, results.backend, device_note);
        write_file_atomically(results.dir / kPlanFile, plan.dump(2) + "\n");
    }
    const FolderLock experiment_lock(results.dir, "wait for it, or start a new experiment without --resume");

    auto start = Clock::now();
    WeightRuns runs = fitting_runs(backend, c, dataset);
    results.fit_runs = int(runs.runs.size());
    results.stage_seconds.push_back({"fitting_runs", seconds_since(start)});

    start = Clock::now();
    DataOptions options = data_options(c);
    options.needs_test_windows = false;
    const PredictorData data = prepare_predictor_data(backend, std::move(runs), options, results.notes);
    if (!results.notes.empty()) std::fprintf(stderr, "twp: %s", results.notes.c_str());
    const ForecasterContext context{backend, c, data, nullptr, results.dir, false};
    Forecasters forecasters = forecaster_registry().make(context, keys);
    for (const auto& f : forecasters) {
        const auto fit_start = Clock::now();
        std::fprintf(stderr, "twp: fitting %s on %d runs\n", f->names().key.c_str(), results.fit_runs);
        f->fit(data);
        std::vector<ForecasterFact> facts = f->facts();
        facts.push_back({"fit_seconds", number_text(seconds_since(fit_start), "%.3g")});
        results.forecasters.push_back({f->names(), f->role(), facts});
    }
    results.stage_seconds.push_back({"fitting_forecasters", seconds_since(start)});

    start = Clock::now();
    for (uint64_t seed : results.seeds)
        for (size_t k = 0; k < results.keys.size(); ++k) {
            const std::string& key = results.keys[k];
            JumpPolicy policy;
            policy.every = results.every;
            policy.horizon = c.nowcast_horizon;
            policy.momentum = parse_momentum_at_jump(c.nowcast_momentum);
            policy.learning_rate = float(c.base_learning_rate);
            policy.history = c.sequence_length;
            if (k > 0) {
                Forecaster& f = *forecasters[k - 1];
                policy.history = std::max(c.sequence_length, f.min_history());
                policy.forecast = jump_forecast(backend, f, data.space, c.nowcast_horizon);
            }
            NowcastHook hook(backend, policy);
            BaseTrainingOptions o = base_training_options(c);
            o.num_runs = 1;
            o.random_seed = seed;
            o.snapshot_dir = results.dir / "runs" / key / ("seed_" + std::to_string(seed));
            o.resume = resuming;
            o.hook = &hook;
            std::fprintf(stderr, "twp: nowcast seed %llu: %s\n", static_cast<unsigned long long>(seed), key.c_str());
            train_base(backend, dataset, o);
            const std::filesystem::path run_dir = run_directory(o.snapshot_dir, 1);
            results.runs.push_back(make_nowcast_run(key, seed, RunIndex::load(run_dir).records(), read_nowcast_log(run_dir)));
        }
    results.stage_seconds.push_back({"nowcast_runs", seconds_since(start)});
    results.measures = measure_nowcasts(results.runs, results.keys, results.seeds, results.targets);
    write_nowcast_results(results);
    remove_predictor_checkpoints(results.dir);
    std::fputs(nowcast_summary_text(results).c_str(), stdout);
    std::printf("Results: %s\n", results.dir.string().c_str());
    return results.dir;
}

}  // namespace twp
