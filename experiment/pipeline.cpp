// The experiment's stages; see pipeline.hpp.
#include "experiment/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/base_training.hpp"
#include "experiment/evaluation.hpp"
#include "experiment/forecaster.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/nowcast.hpp"
#include "experiment/numbers.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/stage_options.hpp"
#include "experiment/study.hpp"
#include "experiment/transformer_forecaster.hpp"
#include "experiment/weight_dataset.hpp"

namespace twp {
namespace {

struct ModeName {
    Mode mode;
    const char* name;
};
constexpr ModeName kModeNames[] = {{Mode::kFull, "full"},         {Mode::kTrainBase, "train_base"},
                                   {Mode::kTrainPredictor, "train_predictor"}, {Mode::kEvaluate, "evaluate"},
                                   {Mode::kExtrapolate, "extrapolate"}, {Mode::kPluginTest, "plugin_test"},
                                   {Mode::kNowcast, "nowcast"}};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// In full mode: whether the snapshots base training will take leave a train and a test window.
void check_windows_ahead(const Config& c, const Plan& plan, int64_t train_images) {
    if (plan.mode != Mode::kFull) return;
    const int64_t per_epoch = int64_t(snapshot_batches((train_images + 31) / 32, c.snapshots_per_epoch).size());
    const int64_t n = per_epoch * c.training_epochs, split = int64_t(std::floor(double(n) * c.train_split));
    if (split <= c.sequence_length || n - split <= c.sequence_length)
        throw UsageError("each run will take " + std::to_string(n) + " snapshots, " + std::to_string(split) +
                         " of them train: --sequence_length " + std::to_string(c.sequence_length) +
                         " leaves no train or no test window; take more epochs or --snapshots_per_epoch");
    if (c.validation_fraction > 0 && split - c.sequence_length < 2)
        throw UsageError("each run will take " + std::to_string(split) + " train snapshots: --sequence_length " +
                         std::to_string(c.sequence_length) + " leaves one train window, none to validate on; take " +
                         "more epochs or --snapshots_per_epoch, or --selection test --validation_fraction 0");
}

// A backend may bound the attention window (the GPU's kernels keep its scores in shared memory).
void check_backend(Backend& backend, const Config& c, const Plan& plan) {
    const int64_t longest = backend.max_attention_sequence();
    if (longest > 0 && plan.trains_predictor && c.sequence_length > longest)
        throw UsageError("--sequence_length " + std::to_string(c.sequence_length) + " is longer than the " +
                         backend.name() + " backend's attention takes (" + std::to_string(longest) +
                         "): use a shorter window, or --no_cuda");
}

// ---- the stages ----

std::vector<RunSummary> base_training_stage(Backend& backend, const Config& c, const Dataset& dataset) {
    std::vector<RunSummary> runs = train_base(backend, dataset, base_training_options(c));
    std::printf("Base training done: %d run%s of %d epochs on %s.\n", c.num_runs, c.num_runs > 1 ? "s" : "",
                c.training_epochs, dataset.name.c_str());
    for (const RunSummary& r : runs) {
        std::printf("  run %d (seed %llu): final test accuracy %.2f%%, loss %.4f, %d snapshots, ", r.run,
                    static_cast<unsigned long long>(r.seed), r.final_test.accuracy, r.final_test.loss, r.snapshots);
        if (r.already_complete)
            std::printf("already complete (--resume)\n");
        else if (r.resumed_at_step > 0)
            std::printf("resumed at step %lld, %.0f s (%.0f img/s)\n", static_cast<long long>(r.resumed_at_step),
                        r.seconds, r.train_images_per_second);
        else
            std::printf("%.0f s (%.0f img/s)\n", r.seconds, r.train_images_per_second);
    }
    std::printf("Snapshots: %s (one index.json per run lists them in training order)\n",
                (std::filesystem::path(c.snapshot_dir) / "training_runs").string().c_str());
    return runs;
}

// The snapshots, in the feature space the predictor is trained in or was saved with.
PredictorData data_stage(Backend& backend, const Config& c, WeightRuns runs, const LoadedPredictor* loaded,
                         std::string& notes) {
    PredictorData data;
    if (loaded) {
        const int64_t sequence_length = loaded->config.sequence_length;
        if (sequence_length != c.sequence_length)
            notes += "The model was trained on windows of " + std::to_string(sequence_length) +
                     " snapshots: its sequence length is used, not --sequence_length.\n";
        data = apply_feature_space(backend, std::move(runs), sequence_length, c.validation_fraction, loaded->space);
    } else {
        data = prepare_predictor_data(backend, std::move(runs), data_options(c), notes);
    }
    if (!notes.empty()) std::fprintf(stderr, "twp: %s", notes.c_str());
    TWP_CHECK(!data.validation_windows.empty() || c.validation_fraction == 0,
              "no run of " << c.snapshot_dir << " has two train windows, so there is none to validate on: take more "
                           << "snapshots, a larger --train_split or a shorter --sequence_length, or give --selection "
                           << "test --validation_fraction 0 (the reference's protocol)");
    std::fprintf(stderr, "twp: %zu train, %zu validation and %zu test windows\n", data.train_windows.size(),
                 data.validation_windows.size(), data.test_windows.size());
    if (data.space.use_pca) {
        double explained = 0;
        for (double v : data.space.pca.explained_variance_ratio) explained += v;
        std::fprintf(stderr, "twp: PCA %lld -> %lld dimensions, explained variance ratio %.4f\n",
                     static_cast<long long>(data.space.raw_dim), static_cast<long long>(data.space.dim()), explained);
    }
    return data;
}

// The experiment's folder: with --resume the most recent unfinished predictor training's, else a
// new one. Returns whether it resumes.
bool experiment_folder_stage(const Config& c, const Plan& plan, std::filesystem::path& dir) {
    if (c.resume && plan.trains_predictor) {
        dir = find_unfinished_experiment(c.results_dir);
        if (dir.empty())
            std::fprintf(stderr, "twp: --resume: no unfinished predictor training under %s: starting a new experiment\n",
                         c.results_dir.c_str());
        else
            std::fprintf(stderr, "twp: --resume: continuing the predictor training of %s\n", dir.string().c_str());
    }
    const bool resuming = !dir.empty();
    if (!resuming) dir = create_experiment_dir(c.results_dir);
    return resuming;
}

// Fits every forecaster (the transformers train here, or come loaded) and records what the
// results say about each, and about each transformer's training.
void fit_stage(Forecasters& forecasters, ExperimentResults& results) {
    for (const auto& f : forecasters) {
        const auto start = Clock::now();
        f->fit(*results.data);
        std::vector<ForecasterFact> facts = f->facts();
        facts.push_back({"fit_seconds", number_text(seconds_since(start), "%.3g")});
        results.forecasters.push_back({f->names(), f->role(), facts});
        if (const auto* transformer = dynamic_cast<const TransformerForecaster*>(f.get()))
            results.predictors.push_back({f->names(), transformer->config(), transformer->delta_target(),
                                          transformer->space().standardize, transformer->model_path(),
                                          transformer->history()});
    }
}

// The plug-in test needs the images of the dataset the snapshots were trained on.
const ImageSet& plug_in_images(const Config& c, const PredictorData& data, Dataset& dataset) {
    const std::string& trained_on = data.runs.runs.front().dataset;
    if (dataset.name != trained_on)
        dataset = load_dataset(c.data_dir.empty() ? "data/" + trained_on : c.data_dir, trained_on);
    return dataset.test;
}

// results.json, the summary and the plots; then the predictor checkpoints go (the experiment is
// complete, so they no longer mark it unfinished).
void results_stage(const ExperimentResults& results) {
    write_results(results.dir, results);
    write_plots(results.dir, results);
    remove_predictor_checkpoints(results.dir);
    std::fputs(summary_text(results).c_str(), stdout);
    std::printf("Results: %s\n", results.dir.string().c_str());
}

}  // namespace

Mode parse_mode(const std::string& text) {
    for (const ModeName& m : kModeNames)
        if (text == m.name) return m.mode;
    throw UsageError("--mode " + text + " is not a mode (full, train_base, train_predictor, evaluate, extrapolate, "
                     "plugin_test, nowcast)");
}

const char* mode_name(Mode mode) {
    for (const ModeName& m : kModeNames)
        if (m.mode == mode) return m.name;
    return "?";
}

Plan make_plan(const Config& c) {
    Plan p;
    p.mode = parse_mode(c.mode);
    const Mode m = p.mode;
    if (m == Mode::kNowcast) {
        p.nowcasts = p.needs_images = true;
        check_nowcast_config(c);
        return p;
    }
    p.trains_base = m == Mode::kFull || m == Mode::kTrainBase;
    p.needs_images = p.trains_base || m == Mode::kPluginTest;
    p.trains_predictor = m == Mode::kFull || m == Mode::kTrainPredictor;
    p.loads_predictor = m == Mode::kEvaluate || m == Mode::kExtrapolate || m == Mode::kPluginTest;
    p.evaluates_direct = m == Mode::kFull || m == Mode::kEvaluate;
    p.extrapolates = m == Mode::kFull || m == Mode::kExtrapolate || m == Mode::kPluginTest;
    p.plug_in = m == Mode::kFull || m == Mode::kPluginTest;
    p.writes_results = m != Mode::kTrainBase;
    forecaster_registry().check_keys(c.forecasters);
    if (runs_study(c) && !p.trains_predictor)
        throw UsageError("--repeats and --split " + c.split + " train the forecasters again for every repeat and fold: "
                         "use them with --mode full or train_predictor, not --mode " + c.mode);
    if (c.split != "time" && p.trains_base && c.num_runs < 2)
        throw UsageError("--split " + c.split + " holds out one run at a time: it needs --num_runs 2 or more, "
                         "so that every fold has runs to train on and a run to test");
    if (p.loads_predictor && c.model_path.empty())
        throw UsageError("--mode " + c.mode + " evaluates a saved predictor: give --model_path "
                         "(results/experiment_<time>/models/<forecaster>_best.safetensors)");
    const std::vector<std::string> chosen = c.forecasters.empty() ? forecaster_registry().default_keys() : c.forecasters;
    if (p.trains_predictor && !c.apply_pca && LeNet5::kParameterCount > c.max_width &&
        std::find(chosen.begin(), chosen.end(), "diffusion") != chosen.end())
        throw UsageError("without --apply_pca the diffusion forecaster would model all 61,706 weights, above --max_width " +
                         std::to_string(c.max_width) + ": use --apply_pca (with --n_components), or raise --max_width");
    if (p.trains_predictor && !c.apply_pca && LeNet5::kParameterCount > c.max_width)
        throw UsageError("without --apply_pca the transformer is as wide as the weights (61,706), whose "
                         "attention and feed-forward layers alone would need about " +
                         std::to_string(int64_t(6.0 * (4.0 * 61706 * 61706 + 2.0 * 2 * 2048 * 61706) * 4 / 1e9)) +
                         " GB; use --apply_pca (with --n_components), or raise --max_width if you mean it");
    return p;
}

Inputs load_inputs(const Config& c, const Plan& plan) {
    Inputs inputs;
    if (plan.needs_images) {
        inputs.dataset = load_dataset(c.resolved_data_dir(), c.dataset);
        check_windows_ahead(c, plan, inputs.dataset.train.count);
    }
    if (plan.loads_predictor) inputs.predictor = load_predictor(c.model_path);
    return inputs;
}

namespace {

// The predictor's stages on `runs` into results.dir (made): the data, the forecasters' fits, the
// evaluations, the plug-in test and the folder's outputs.
void predictor_stages(Backend& backend, const Config& c, const Plan& plan, Inputs& inputs, WeightRuns runs,
                      bool resuming, ExperimentResults& results) {
    auto start = Clock::now();
    const LoadedPredictor* loaded = inputs.predictor ? &*inputs.predictor : nullptr;
    results.data = data_stage(backend, c, std::move(runs), loaded, results.notes);
    results.stage_seconds.push_back({"snapshots_and_pca", seconds_since(start)});

    const ForecasterContext context{backend, c, *results.data, loaded, results.dir, resuming};
    Forecasters forecasters = forecaster_registry().make(context, c.forecasters);
    start = Clock::now();
    fit_stage(forecasters, results);
    if (plan.trains_predictor) results.stage_seconds.push_back({"predictor_training", seconds_since(start)});

    if (plan.evaluates_direct || plan.extrapolates) {
        start = Clock::now();
        if (plan.evaluates_direct) {
            results.direct = evaluate_direct(backend, forecasters, *results.data);
            results.verdicts = unit_verdicts(results.forecasters, *results.direct, c.random_seed);
            if (std::any_of(forecasters.begin(), forecasters.end(), [](const auto& f) { return f->samples() > 0; }))
                results.spread = evaluate_spread(forecasters, *results.data, *results.direct);
        }
        if (plan.extrapolates) results.extrapolation = extrapolate(backend, forecasters, *results.data, c.extrapolation_steps);
        results.stage_seconds.push_back({"evaluation", seconds_since(start)});
    }
    if (plan.plug_in) {
        start = Clock::now();
        const ImageSet& images = plug_in_images(c, *results.data, inputs.dataset);
        results.plugin = plugin_test(backend, forecasters, images, *results.data, *results.extrapolation);
        results.stage_seconds.push_back({"plug_in_test", seconds_since(start)});
    }
    results_stage(results);
}

ExperimentResults new_results(Backend& backend, const Config& c, const Plan& plan) {
    ExperimentResults results;
    results.mode = mode_name(plan.mode);
    results.backend = backend.description();
    results.dataset = c.dataset;
    return results;
}

// One experiment, as the reference runs it: one set of base runs, the time split.
ExperimentResults single_experiment(Backend& backend, const Config& c, const Plan& plan, Inputs& inputs,
                                    const std::string& device_note) {
    ExperimentResults results = new_results(backend, c, plan);
    // One writer per snapshot folder: a second twp pointed at it is refused before it writes.
    std::optional<FolderLock> snapshot_lock;
    if (plan.trains_base) {
        snapshot_lock.emplace(c.snapshot_dir, "wait for it or use another --snapshot_dir");
        const auto start = Clock::now();
        results.base_runs = base_training_stage(backend, c, inputs.dataset);
        results.stage_seconds.push_back({"base_training", seconds_since(start)});
    }
    if (!plan.writes_results) return results;

    WeightRuns runs = load_weight_runs(c.snapshot_dir, c.train_split);
    const bool resuming = experiment_folder_stage(c, plan, results.dir);
    // A folder whose predictor is being trained has one writer: a second --resume is refused.
    std::optional<FolderLock> experiment_lock;
    if (plan.trains_predictor) experiment_lock.emplace(results.dir, "wait for it, or start a new experiment without --resume");
    if (resuming) {
        for (const char* sub : {"", "models", "plots"}) remove_stale_temporaries(results.dir / sub);
    } else {
        write_config(results.dir, c, results.backend, device_note);
    }
    predictor_stages(backend, c, plan, inputs, std::move(runs), resuming, results);
    return results;
}

// A unit's folder under the study's: made with models/ and plots/.
std::filesystem::path unit_folder(const std::filesystem::path& study, int repeat, const std::string& split, int fold) {
    std::filesystem::path dir = study / ("repeat_" + std::to_string(repeat));
    dir /= split == "time" ? std::filesystem::path("time") : std::filesystem::path("runs") / ("fold_" + std::to_string(fold));
    create_directories_checked(dir / "models");
    create_directories_checked(dir / "plots");
    return dir;
}

// Repeats and splits (study.hpp): each repeat trains (or finds) its own base runs, every unit is a
// single experiment in its own folder, and the study's folder gets the aggregate.
StudyResults study(Backend& backend, const Config& c, const Plan& plan, Inputs& inputs, const std::string& device_note) {
    if (!plan.trains_base)  // the snapshots exist: refuse a split they cannot make before writing
        for (int repeat = 1; repeat <= c.repeats; ++repeat) {
            const Config rc = repeat_config(c, repeat);
            const WeightRuns runs = load_weight_runs(rc.snapshot_dir, rc.train_split);
            if (c.split != "time" && runs.runs.size() < 2)
                throw UsageError("--split " + c.split + ": " + rc.snapshot_dir + " holds " + std::to_string(runs.runs.size()) +
                                 " run; holding one out needs 2 or more");
        }
    StudyResults s;
    s.repeats = c.repeats;
    s.mode = mode_name(plan.mode);
    s.backend = backend.description();
    s.dataset = c.dataset;
    s.dir = create_experiment_dir(c.results_dir);
    write_config(s.dir, c, s.backend, device_note);
    std::vector<std::string> splits;
    if (c.split != "runs") splits.push_back("time");
    if (c.split != "time") splits.push_back("runs");
    // The aggregate is made of the evaluations: a study evaluates in every mode that trains.
    Plan unit_plan = plan;
    unit_plan.evaluates_direct = unit_plan.extrapolates = true;
    double base_seconds = 0, unit_seconds = 0;
    for (int repeat = 1; repeat <= c.repeats; ++repeat) {
        const Config rc = repeat_config(c, repeat);
        std::fprintf(stderr, "twp: repeat %d/%d: seeds from %llu, snapshots in %s\n", repeat, c.repeats,
                     static_cast<unsigned long long>(rc.random_seed), rc.snapshot_dir.c_str());
        std::vector<RunSummary> base_runs;
        if (plan.trains_base) {
            const FolderLock lock(rc.snapshot_dir, "wait for it or use another --snapshot_dir");
            const auto start = Clock::now();
            base_runs = base_training_stage(backend, rc, inputs.dataset);
            base_seconds += seconds_since(start);
            s.base_runs.push_back(base_runs);
        }
        const WeightRuns runs = load_weight_runs(rc.snapshot_dir, rc.train_split);
        const auto start = Clock::now();
        for (const std::string& split : splits) {
            const int folds = split == "time" ? 1 : int(runs.runs.size());
            for (int fold = 0; fold < folds; ++fold) {
                ExperimentResults unit = new_results(backend, rc, plan);
                const int held_out = split == "time" ? 0 : runs.runs[fold].run;
                unit.dir = unit_folder(s.dir, repeat, split, held_out);
                if (s.units.empty() || s.units.back().repeat != repeat) unit.base_runs = base_runs;
                if (split == "runs")
                    std::fprintf(stderr, "twp: repeat %d, runs split: run %d held out\n", repeat, held_out);
                write_config(unit.dir, rc, unit.backend, device_note);
                predictor_stages(backend, rc, unit_plan, inputs, split == "time" ? runs : hold_out_run(runs, fold), false, unit);
                s.units.push_back(record_unit(unit, repeat, split, held_out));
            }
        }
        unit_seconds += seconds_since(start);
    }
    if (plan.trains_base) s.stage_seconds.push_back({"base_training", base_seconds});
    s.stage_seconds.push_back({"predictor_stages", unit_seconds});
    s.splits = aggregate_units(s.units, c.random_seed);
    write_study(s);
    std::fputs(study_summary_text(s).c_str(), stdout);
    std::printf("Results: %s\n", s.dir.string().c_str());
    return s;
}

}  // namespace

Config repeat_config(const Config& c, int repeat) {
    Config r = c;
    if (repeat == 1) return r;
    r.random_seed = c.random_seed + 1000ull * uint64_t(repeat - 1);
    r.snapshot_dir = (std::filesystem::path(c.snapshot_dir) / ("repeat_" + std::to_string(repeat))).string();
    return r;
}

bool runs_study(const Config& c) { return c.repeats > 1 || c.split != "time"; }

ExperimentResults run_experiment(Backend& backend, const Config& c, const Plan& plan, Inputs& inputs,
                                 const std::string& device_note) {
    check_backend(backend, c, plan);
    if (plan.nowcasts) {
        ExperimentResults results;
        results.mode = mode_name(plan.mode);
        results.dir = run_nowcast(backend, c, inputs.dataset, device_note);
        return results;
    }
    if (!runs_study(c)) return single_experiment(backend, c, plan, inputs, device_note);
    StudyResults s = study(backend, c, plan, inputs, device_note);
    ExperimentResults results;
    results.mode = s.mode;
    results.dir = s.dir;
    return results;
}

}  // namespace twp
