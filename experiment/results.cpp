// Writing the results folder; see results.hpp.
#include "experiment/results.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/plot.hpp"
#include "experiment/report_format.hpp"

namespace twp {
namespace {

using Json = nlohmann::ordered_json;

using report::format;
using report::number;
using report::numbers;

// "both baselines", "the baseline", "all 3 baselines".
std::string baselines_phrase(size_t count) {
    if (count == 1) return "the baseline";
    if (count == 2) return "both baselines";
    return "all " + std::to_string(count) + " baselines";
}

// One line per learned forecaster: how its value (lower is better) compares with the best
// baseline's, "1.3e+03x the MSE of last value" style. values[f] follows r.forecasters.
std::string verdicts(const std::vector<ForecasterInfo>& forecasters, const std::vector<double>& values,
                     const char* what) {
    // The best baseline: the first of the lowest (ties go to the earlier one).
    size_t best = forecasters.size(), baselines = 0;
    for (size_t f = 0; f < forecasters.size(); ++f)
        if (forecasters[f].role == ForecasterRole::kBaseline) {
            ++baselines;
            if (best == forecasters.size() || values[f] < values[best]) best = f;
        }
    std::ostringstream text;
    for (size_t f = 0; f < forecasters.size(); ++f) {
        if (forecasters[f].role != ForecasterRole::kLearned) continue;
        const std::string& name = forecasters[f].names.noun;
        if (!std::isfinite(values[f])) {
            text << "  -> no verdict: the " << name << "'s " << what << " is not finite\n";
            continue;
        }
        if (best == forecasters.size()) continue;  // nothing to compare with
        const std::string& baseline = forecasters[best].names.noun;
        if (values[f] < values[best])
            text << "  -> the " << name << " BEATS " << baselines_phrase(baselines) << ": "
                 << format("%.3g", values[best] / values[f]) << "x lower " << what << " than " << baseline << "\n";
        else
            text << "  -> the " << name << " is WORSE than " << baseline << ": "
                 << format("%.3g", values[f] / values[best]) << "x its " << what << "\n";
    }
    return text.str();
}

// "validation MSE 0.0123 at epoch 41 of 100 (step 82 of 200), stopped early; selected on the
// validation windows": one transformer's training, for the summary.
std::string training_line(const PredictorRecord& p) {
    const PredictorHistory& h = *p.history;
    const std::string set = selection_set_name(h.selection);
    std::ostringstream t;
    t << "Predictor training, " << p.names.label << ": best " << set << " MSE " << format("%.6g", h.best_selection_loss)
      << " at epoch " << h.best_epoch << " of " << h.selection_loss.size() << " (step " << h.best_step << " of "
      << h.steps << ")" << (h.best_epoch == 0 ? ", the initial parameters (no epoch did better)" : "") << (h.stopped_early ? ", stopped early" : "") << ", "
      << (h.selection == SelectionSet::kTest ? "selected on the test windows, as the reference (optimistic)"
                                             : "selected on the validation windows")
      << " (model space" << (p.standardized ? ", standardized" : "") << ", target "
      << (p.delta_target ? "delta" : "next") << ", " << format("%.1f", h.seconds) << " s)\n";
    return t.str();
}

std::string padded(const std::string& text, int width) {
    return text.size() >= size_t(width) ? text : std::string(size_t(width) - text.size(), ' ') + text;
}

}  // namespace

std::filesystem::path create_experiment_dir(const std::filesystem::path& results_dir) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "experiment_%Y%m%d_%H%M%S", &local);
    create_directories_checked(results_dir);
    // mkdir claims the name atomically: it fails with EEXIST when the folder exists, even when
    // another twp created it this very second, so two experiments never share a folder and
    // existing results are never written into.
    std::filesystem::path dir = results_dir / stamp;
    for (int suffix = 2; ::mkdir(dir.c_str(), 0755) != 0; ++suffix) {
        const int error_number = errno;
        if (error_number != EEXIST)
            TWP_FAIL("cannot create the experiment folder '" << dir.string() << "': "
                     << std::strerror(error_number) << "; check that --results_dir "
                     << results_dir.string() << " is writable and has free space");
        dir = results_dir / (std::string(stamp) + "_" + std::to_string(suffix));
    }
    create_directories_checked(dir / "models");
    create_directories_checked(dir / "plots");
    return dir;
}

void write_config(const std::filesystem::path& dir, const Config& c, const std::string& backend,
                  const std::string& device_note) {
    std::ostringstream text;
    text << "Experiment Configuration:\n" << std::string(50, '=') << "\n";
    text << "mode: " << c.mode << "\n"
         << "training_epochs: " << c.training_epochs << "\n"
         << "snapshots_per_epoch: " << c.snapshots_per_epoch << "\n"
         << "num_runs: " << c.num_runs << "\n"
         << "random_seed: " << c.random_seed << "\n"
         << "snapshot_dir: " << c.snapshot_dir << "\n"
         << "dataset: " << c.dataset << "\n"
         << "data_dir: " << c.resolved_data_dir() << "\n"
         << "sequence_length: " << c.sequence_length << "\n"
         << "train_split: " << c.train_split << "\n"
         << "batch_size: " << c.batch_size << "\n"
         << "apply_pca: " << (c.apply_pca ? "true" : "false") << "\n"
         << "n_components: " << c.n_components << "\n"
         << "learning_rate: " << c.learning_rate << "\n"
         << "predictor_epochs: " << c.predictor_epochs << "\n"
         << "extrapolation_steps: " << c.extrapolation_steps << "\n"
         << "num_layers: " << c.num_layers << "\n"
         << "nhead: " << (c.nhead ? std::to_string(c.nhead) : "auto (the reference's rule)") << "\n"
         << "dim_feedforward: " << c.dim_feedforward << "\n"
         << "dropout: " << c.dropout << "\n"
         << "target: " << c.target << "\n"
         << "standardize: " << (c.standardize ? "true" : "false") << "\n"
         << "max_width: " << c.max_width << "\n"
         << "model_path: " << (c.model_path.empty() ? "None" : c.model_path) << "\n"
         << "results_dir: " << c.results_dir << "\n"
         << "no_cuda: " << (c.no_cuda ? "true" : "false") << "\n"
         << "device: " << c.device << "\n"
         << "tf32: " << (c.tf32 ? "true" : "false") << "\n"
         << "threads: " << (c.threads ? std::to_string(c.threads) : "all cores") << "\n";
    text << "\nCommand line: twp";
    for (const std::string& a : c.arguments) text << " " << a;
    text << "\n\nBackend: " << backend << "\nDevice: " << device_note << "\nBuild: twp " << TWP_VERSION
         << " (" << __DATE__ << ")\n";
    write_file_atomically(dir / "config.txt", text.str());
}

namespace {

// The sampling forecasters' spread: coverage, CRPS against the Gaussian baseline, memorization,
// and the plug-in accuracy of their draws.
std::string spread_text(const ExperimentResults& r) {
    std::ostringstream t;
    const SpreadEvaluation& s = *r.spread;
    const auto label = [&](const std::string& key) {
        for (const ForecasterInfo& f : r.forecasters)
            if (f.names.key == key) return f.names.column;
        return std::string("Gaussian (last value, train step RMS)");
    };
    const SpreadEvaluation::Entry* gaussian = nullptr;
    for (const auto& e : s.entries)
        if (e.key == "gaussian") gaussian = &e;
    t << "Forecast spread (PCA space, next snapshot of every test window, per component; nominal 50% / 90%):\n";
    t << "  " << padded("", 40) << " " << padded("50% covered", 12) << " " << padded("90% covered", 12) << " "
      << padded("CRPS", 12) << "\n";
    for (const auto& e : s.entries) {
        std::string name = label(e.key);
        if (e.samples) name += " (" + std::to_string(e.samples) + " draws)";
        t << "  " << padded(name, 40) << " " << padded(format("%.1f%%", 100 * e.score.coverage50), 12) << " "
          << padded(format("%.1f%%", 100 * e.score.coverage90), 12) << " " << padded(format("%.4g", e.score.crps), 12)
          << "\n";
    }
    for (const auto& e : s.entries) {
        if (e.key == "gaussian") continue;
        const double c90 = 100 * e.score.coverage90;
        t << "  -> the " << label(e.key) << "'s 90% intervals hold " << format("%.1f%%", c90) << " of the true values ("
          << (c90 < 85 ? "too narrow: overconfident" : c90 > 95 ? "too wide: underconfident" : "within 85-95%: calibrated")
          << ")";
        if (gaussian)
            t << "; its CRPS is " << format("%.3g", e.score.crps / gaussian->score.crps) << "x the Gaussian's ("
              << (e.score.crps < gaussian->score.crps ? "BEATS" : "LOSES to") << " the Gaussian baseline)";
        t << "\n";
        t << "  -> memorization: a draw lies " << format("%.4g", e.memorization.draw_distance)
          << " from the nearest training snapshot on average, the true next snapshot "
          << format("%.4g", e.memorization.truth_distance) << "; " << format("%.1f%%", 100 * e.memorization.closer_fraction)
          << " of the draws are nearer one than their truth is\n";
    }
    if (r.plugin)
        for (const PluginEvaluation::DrawAccuracy& a : r.plugin->draws) {
            t << "  Plug-in accuracy of every " << label(a.key) << " draw (" << a.samples
              << " per path), mean [sd, min-max], within 0.5 points of the true snapshot's:\n";
            for (size_t i = 0; i < a.mean.size(); ++i)
                t << "    Step " << i + 1 << ": " << format("%.2f%%", a.mean[i]) << " [" << format("%.2f", a.sd[i]) << ", "
                  << format("%.2f", a.min[i]) << "-" << format("%.2f", a.max[i]) << "], "
                  << format("%.0f%%", 100 * a.within[i]) << " within 0.5\n";
        }
    t << "\n";
    return t.str();
}

}  // namespace

std::string summary_text(const ExperimentResults& r) {
    std::ostringstream t;
    t << "Experiment Results Summary:\n" << std::string(50, '=') << "\n\n";
    if (!r.notes.empty()) t << r.notes << "\n";
    if (!r.base_runs.empty()) {
        t << "Base Model Final Accuracy: " << format("%.2f", r.base_runs.back().final_test.accuracy) << "%\n";
        for (const RunSummary& run : r.base_runs)
            t << "  run " << run.run << " (seed " << run.seed << "): " << format("%.2f", run.final_test.accuracy)
              << "%, test loss " << format("%.4f", run.final_test.loss) << "\n";
        t << "\n";
    }
    if (r.data && r.data->space.use_pca) {
        double explained = 0;
        for (double v : r.data->space.pca.explained_variance_ratio) explained += v;
        t << "PCA: " << r.data->space.raw_dim << " weights -> " << r.data->space.dim()
          << " components fitted on " << r.data->space.pca.samples << " train snapshots, explained variance ratio "
          << format("%.6f", explained) << "\n";
    }
    if (r.data)
        t << "Windows: " << r.data->train_windows.size() << " train, " << r.data->validation_windows.size()
          << " validation, " << r.data->test_windows.size() << " test (sequence length " << r.data->sequence_length
          << ")\n\n";
    bool trained = false;
    for (const PredictorRecord& p : r.predictors)
        if (p.history) {
            t << training_line(p);
            trained = true;
        }
    for (const ForecasterInfo& f : r.forecasters)
        if (f.role == ForecasterRole::kLearned && !f.facts.empty()) {
            t << "  " << f.names.key << ":";
            for (const ForecasterFact& fact : f.facts) t << " " << fact.key << " " << fact.value << ";";
            t << "\n";
            trained = true;
        }
    if (trained) t << "\n";
    const size_t n = r.forecasters.size();
    if (r.direct) {
        const std::vector<ForecastError>& errors = r.direct->forecasters;
        // The headline, as the reference's: the first learned forecaster's MSE.
        size_t headline = 0;
        while (headline + 1 < n && r.forecasters[headline].role != ForecasterRole::kLearned) ++headline;
        t << "Direct Prediction MSE: " << format("%.6f", n ? errors[headline].pca_mse : NAN) << "\n";
        int label_width = 24;
        for (const ForecasterInfo& f : r.forecasters) label_width = std::max(label_width, int(f.names.label.size()));
        t << "  over " << r.direct->windows << " test windows" << std::string(size_t(label_width - 24), ' ')
          << "      PCA space      weight space\n";
        std::vector<double> pca(n);
        for (size_t f = 0; f < n; ++f) {
            char line[240];
            std::snprintf(line, sizeof line, "  %-*s %14s %17s\n", label_width, r.forecasters[f].names.label.c_str(),
                          format("%.6g", errors[f].pca_mse).c_str(), format("%.6g", errors[f].weight_mse).c_str());
            t << line;
            pca[f] = errors[f].pca_mse;
        }
        t << verdicts(r.forecasters, pca, "MSE");
        if (!r.verdicts.empty()) {
            t << "Against last value (weight space, 95% paired block bootstrap over the test windows):\n";
            for (size_t f = 0; f < n; ++f)
                if (r.forecasters[f].names.key != "last_value") t << verdict_line(r.forecasters[f].names.noun, r.verdicts[f]);
        }
        t << "\n";
    }
    if (r.extrapolation) {
        const Extrapolation& e = *r.extrapolation;
        t << "Multi-step Prediction MSEs (PCA space, mean over runs):\n";
        t << "         ";
        for (const ForecasterInfo& f : r.forecasters) t << " " << padded(f.names.column, 14);
        t << "\n";
        for (int i = 0; i < e.steps; ++i) {
            t << "  Step " << i + 1 << ":";
            for (size_t f = 0; f < n; ++f) t << " " << padded(format("%.6g", e.pca_mse[f][i]), 14);
            t << "\n";
        }
        if (e.steps > 0) {
            std::vector<double> last(n);
            for (size_t f = 0; f < n; ++f) last[f] = e.pca_mse[f][e.steps - 1];
            t << verdicts(r.forecasters, last, "MSE at the last step");
        } else {
            t << "  (no run has a test snapshot after its first window)\n";
        }
        t << "\n";
    }
    if (r.plugin) {
        const PluginEvaluation& p = *r.plugin;
        t << "Plug-in Test Accuracies (%, LeNet-5 on the test set, mean over runs):\n";
        t << "         ";
        for (const ForecasterInfo& f : r.forecasters) t << " " << padded(f.names.column, 11);
        t << " " << padded("true snapshot", 14) << " " << padded("true after PCA", 15) << "\n";
        const size_t steps = p.accuracy.empty() ? 0 : p.accuracy[0].size();
        for (size_t i = 0; i < steps; ++i) {
            t << "  Step " << i + 1 << ":";
            for (size_t f = 0; f < n; ++f) t << " " << padded(format("%.2f", p.accuracy[f][i]), 11);
            t << " " << padded(format("%.2f", p.accuracy[n][i]), 14) << " "
              << padded(format("%.2f", p.accuracy[n + 1][i]), 15) << "\n";
        }
        if (steps > 0) {
            const size_t last = steps - 1;
            t << "  -> at the last step";
            for (size_t f = 0; f < n; ++f)
                if (r.forecasters[f].role == ForecasterRole::kLearned)
                    t << " the " << r.forecasters[f].names.noun << "'s weights score " << format("%.2f", p.accuracy[f][last])
                      << "%,";
            t << " the true snapshot " << format("%.2f", p.accuracy[n][last]) << "% (PCA alone: "
              << format("%.2f", p.accuracy[n + 1][last]) << "%)";
            for (size_t f = 0; f < n; ++f)
                if (r.forecasters[f].role == ForecasterRole::kBaseline)
                    t << ", " << r.forecasters[f].names.noun << " " << format("%.2f", p.accuracy[f][last]) << "%";
            t << "\n";
        }
        t << "\n";
    }
    if (r.spread) t << spread_text(r);
    bool any_facts = false;
    for (const ForecasterInfo& f : r.forecasters) any_facts |= !f.facts.empty();
    if (any_facts) {
        t << "What the fits chose (on the train and validation windows only):\n";
        for (const ForecasterInfo& f : r.forecasters) {
            if (f.facts.empty()) continue;
            t << "  " << f.names.column << ":";
            for (size_t i = 0; i < f.facts.size(); ++i) t << (i ? ", " : " ") << f.facts[i].key << " " << f.facts[i].value;
            t << "\n";
        }
        t << "\n";
    }
    if (!r.stage_seconds.empty()) {
        t << "Stage times:";
        for (const auto& [stage, seconds] : r.stage_seconds) t << " " << stage << " " << format("%.1f", seconds) << " s;";
        t << "\n";
    }
    return t.str();
}

void write_results(const std::filesystem::path& dir, const ExperimentResults& r) {
    write_file_atomically(dir / "results_summary.txt", summary_text(r));
    Json j;
    j["mode"] = r.mode;
    j["backend"] = r.backend;
    j["dataset"] = r.dataset;
    j["notes"] = r.notes;
    if (!r.base_runs.empty()) {
        Json runs = Json::array();
        for (const RunSummary& run : r.base_runs)
            runs.push_back({{"run", run.run}, {"seed", run.seed}, {"final_test_accuracy", run.final_test.accuracy},
                            {"final_test_loss", run.final_test.loss}, {"snapshots", run.snapshots},
                            {"seconds", run.seconds}, {"train_images_per_second", run.train_images_per_second}});
        j["base_model"] = {{"final_accuracy", r.base_runs.back().final_test.accuracy}, {"runs", runs}};
    }
    if (r.data) {
        const FeatureSpace& s = r.data->space;
        Json pca = {{"applied", s.use_pca}, {"standardize", s.standardize}, {"input_dim", s.dim()},
                    {"raw_dim", s.raw_dim}};
        if (s.use_pca) {
            double total = 0;
            for (double v : s.pca.explained_variance_ratio) total += v;
            pca["components"] = s.pca.components;
            pca["fit_samples"] = s.pca.samples;
            pca["explained_variance_ratio_total"] = total;
            pca["explained_variance_ratio"] = numbers(s.pca.explained_variance_ratio);
        }
        j["pca"] = pca;
        j["windows"] = {{"train", r.data->train_windows.size()},
                        {"validation", r.data->validation_windows.size()},
                        {"test", r.data->test_windows.size()}};
    }
    // Each transformer forecaster under its key: its shape, its file, its training; the
    // selection loss under the name of the set it was measured on (validation_loss or test_loss).
    Json predictors = Json::object();
    for (const PredictorRecord& p : r.predictors) {
        Json record = {{"input_dim", p.model.dim}, {"nhead", p.model.heads}, {"num_layers", p.model.layers},
                       {"dim_feedforward", p.model.feedforward}, {"dropout", p.model.dropout},
                       {"sequence_length", p.model.sequence_length}, {"target", p.delta_target ? "delta" : "next"},
                       {"standardized", p.standardized}, {"model_path", p.model_path}};
        if (p.history) {
            const PredictorHistory& h = *p.history;
            const std::string set = selection_set_name(h.selection);
            record["training"] = {{"selection", set},
                                  {"train_loss", numbers(h.train_loss)},
                                  {set + "_loss", numbers(h.selection_loss)},
                                  {"best_epoch", h.best_epoch},
                                  {"best_step", h.best_step},
                                  {"best_" + set + "_loss", number(h.best_selection_loss)},
                                  {"steps", h.steps},
                                  {"stopped_early", h.stopped_early},
                                  {"seconds", h.seconds}};
        }
        predictors[p.names.key] = record;
    }
    j["predictors"] = predictors;
    if (r.direct) {
        Json direct = {{"windows", r.direct->windows}};
        for (size_t f = 0; f < r.forecasters.size(); ++f) {
            const ForecastError& e = r.direct->forecasters[f];
            direct[r.forecasters[f].names.key] = {{"pca_mse", number(e.pca_mse)}, {"weight_mse", number(e.weight_mse)},
                                   {"per_run_pca_mse", numbers(e.per_run_pca)},
                                   {"per_run_weight_mse", numbers(e.per_run_weight)}};
        }
        j["direct_prediction"] = direct;
    }
    if (!r.verdicts.empty()) {
        Json verdicts = Json::array();
        for (size_t f = 0; f < r.forecasters.size(); ++f) {
            const RatioVerdict& v = r.verdicts[f];
            verdicts.push_back({{"split", "time"}, {"forecaster", r.forecasters[f].names.key}, {"ratio", number(v.ratio)},
                                {"low", number(v.low)}, {"high", number(v.high)}, {"verdict", v.verdict}});
        }
        j["verdicts"] = verdicts;
    }
    {
        Json forecasters = Json::array();
        for (const ForecasterInfo& f : r.forecasters) {
            Json facts = Json::object();
            for (const ForecasterFact& fact : f.facts) facts[fact.key] = fact.value;
            forecasters.push_back({{"key", f.names.key}, {"label", f.names.label},
                                   {"role", f.role == ForecasterRole::kLearned ? "learned" : "baseline"}, {"facts", facts}});
        }
        j["forecasters"] = forecasters;
    }
    if (r.extrapolation) {
        Json e = {{"steps", r.extrapolation->steps}};
        for (size_t f = 0; f < r.forecasters.size(); ++f)
            e[r.forecasters[f].names.key] = {{"pca_mse_per_step", numbers(r.extrapolation->pca_mse[f])},
                                             {"weight_mse_per_step", numbers(r.extrapolation->weight_mse[f])},
                                             {"runs_per_step", r.extrapolation->runs_per_step[f]}};
        j["extrapolation"] = e;
    }
    if (r.plugin) {
        Json p = Json::object();
        for (size_t s = 0; s < r.plugin->series.size(); ++s) {
            Json per_run = Json::array();
            for (const auto& run : r.plugin->per_run[s]) per_run.push_back(numbers(run));
            p[r.plugin->series[s]] = {{"accuracy_per_step", numbers(r.plugin->accuracy[s])}, {"per_run", per_run}};
        }
        j["plug_in"] = p;
    }
    if (r.spread) {
        Json sp = {{"levels", calibration_levels()}, {"gaussian_sd", numbers(r.spread->gaussian_sd)}};
        for (const auto& e : r.spread->entries) {
            Json entry = {{"coverage", numbers(e.score.coverage)}, {"coverage_50", number(e.score.coverage50)},
                          {"coverage_90", number(e.score.coverage90)}, {"crps", number(e.score.crps)},
                          {"values", e.score.values}};
            if (e.samples) {
                entry["samples"] = e.samples;
                entry["memorization"] = {{"draw_distance", number(e.memorization.draw_distance)},
                                         {"truth_distance", number(e.memorization.truth_distance)},
                                         {"closer_fraction", number(e.memorization.closer_fraction)}};
            }
            sp[e.key] = entry;
        }
        if (r.plugin)
            for (const PluginEvaluation::DrawAccuracy& a : r.plugin->draws)
                sp[a.key]["plug_in_draws"] = {{"mean", numbers(a.mean)}, {"sd", numbers(a.sd)}, {"min", numbers(a.min)},
                                              {"max", numbers(a.max)}, {"within_half_point", numbers(a.within)}};
        j["spread"] = sp;
    }
    Json times = Json::object();
    for (const auto& [stage, seconds] : r.stage_seconds) times[stage] = seconds;
    j["stage_seconds"] = times;
    write_file_atomically(dir / "results.json", j.dump(2) + "\n");
}

void write_plots(const std::filesystem::path& dir, const ExperimentResults& r) {
    const std::vector<Rgb> colors = palette();
    const auto save = [&](const Plot& plot, const char* name) {
        save_plot_png(dir / "plots" / (std::string(name) + ".png"), plot);
        save_plot_csv(dir / "plots" / (std::string(name) + ".csv"), plot);
    };
    const auto steps_axis = [](size_t n) {
        std::vector<double> x(n);
        for (size_t i = 0; i < n; ++i) x[i] = double(i + 1);
        return x;
    };
    const size_t n = r.forecasters.size();
    const auto learned = [&](size_t f) { return r.forecasters[f].role == ForecasterRole::kLearned; };
    // Each trained transformer's train loss (solid) and selection loss (dashed), in its colour.
    Plot training{"Predictor training: train and selection loss", "epoch", "MSE (model space)", {}, true};
    training.integer_x = true;
    for (size_t k = 0; k < r.predictors.size(); ++k) {
        const PredictorRecord& p = r.predictors[k];
        if (!p.history) continue;
        const std::vector<double> epochs = steps_axis(p.history->train_loss.size());
        const Rgb color = colors[k % colors.size()];
        training.series.push_back({p.names.column + " train", epochs, p.history->train_loss, color, SeriesStyle::kLine});
        training.series.push_back({p.names.column + " " + selection_set_name(p.history->selection), epochs,
                                   p.history->selection_loss, color, SeriesStyle::kDashedLine});
    }
    if (!training.series.empty()) save(training, "training_loss");
    if (r.data) {
        const PredictorData& data = *r.data;
        Plot plot{"Weight trajectory on the first two principal components, with each forecaster's path", "PC1",
                  "PC2", {}, false};
        const int64_t d = data.space.dim();
        const std::vector<Rgb> greys = {{40, 40, 40}, {110, 110, 110}, {170, 170, 170}};
        for (size_t k = 0; k < data.runs.runs.size() && d >= 2; ++k) {
            const RunSnapshots& run = data.runs.runs[k];
            Series truth{"run " + std::to_string(run.run) + " true", {}, {}, greys[k % greys.size()],
                         SeriesStyle::kLinePoints};
            for (int64_t i = 0; i < run.count; ++i) {
                truth.x.push_back(data.scores[k][i * d]);
                truth.y.push_back(data.scores[k][i * d + 1]);
            }
            plot.series.push_back(truth);
        }
        // Every forecaster's path from each run's first test window, one colour per forecaster
        // (named once in the legend); learned ones solid, baselines dashed.
        if (r.extrapolation && d >= 2)
            for (size_t f = 0; f < n; ++f)
                for (size_t p = 0; p < r.extrapolation->paths.size(); ++p) {
                    const Extrapolation::RunPath& path = r.extrapolation->paths[p];
                    Series predicted{p == 0 ? r.forecasters[f].names.column : "", {}, {}, colors[f % colors.size()],
                                     learned(f) ? SeriesStyle::kLinePoints : SeriesStyle::kDashedLine};
                    // From the last true input, then the predicted steps.
                    predicted.x.push_back(data.scores[path.run_index][(path.start - 1) * d]);
                    predicted.y.push_back(data.scores[path.run_index][(path.start - 1) * d + 1]);
                    for (int i = 0; i < path.steps; ++i) {
                        predicted.x.push_back(path.predicted[f][i * d]);
                        predicted.y.push_back(path.predicted[f][i * d + 1]);
                    }
                    plot.series.push_back(predicted);
                }
        if (!data.space.use_pca) {
            plot.title = "Weight trajectory on the first two weights (no PCA)";
            plot.x_label = "weight 1";
            plot.y_label = "weight 2";
        }
        save(plot, "weight_trajectory");
    }
    if (r.extrapolation) {
        Plot plot{"Multi-step extrapolation error", "extrapolation step", "MSE (PCA space)", {}, true};
        plot.integer_x = true;
        const std::vector<double> steps = steps_axis(size_t(r.extrapolation->steps));
        for (size_t f = 0; f < n; ++f)
            plot.series.push_back({r.forecasters[f].names.label, steps, r.extrapolation->pca_mse[f],
                                   colors[f % colors.size()], learned(f) ? SeriesStyle::kLinePoints : SeriesStyle::kDashedLine});
        save(plot, "extrapolation_error");
    }
    if (r.plugin) {
        Plot plot{"Plug-in accuracy of the extrapolated weights", "extrapolation step", "LeNet-5 test accuracy (%)",
                  {}, false};
        plot.integer_x = true;
        std::vector<std::string> labels;
        for (const ForecasterInfo& f : r.forecasters) labels.push_back(f.names.column);
        labels.push_back("true snapshot");
        labels.push_back("true after PCA");
        for (size_t s = 0; s < r.plugin->series.size(); ++s)
            plot.series.push_back({labels[s], steps_axis(r.plugin->accuracy[s].size()), r.plugin->accuracy[s],
                                   colors[s % colors.size()], s >= n ? SeriesStyle::kDashedLine : SeriesStyle::kLinePoints});
        save(plot, "plug_in_accuracy");
    }
    if (r.data) {
        Plot plot{"Base training along the snapshots: test error and loss", "epoch",
                  "test error (%) and test loss", {}, true};
        plot.integer_x = true;  // ticks at whole epochs; the snapshots sit between them
        for (size_t k = 0; k < r.data->runs.runs.size(); ++k) {
            const RunSnapshots& run = r.data->runs.runs[k];
            Series error{"run " + std::to_string(run.run) + " test error %", {}, {}, colors[k % colors.size()],
                         SeriesStyle::kLinePoints};
            Series loss{"run " + std::to_string(run.run) + " test loss", {}, {}, colors[k % colors.size()],
                        SeriesStyle::kDashedLine};
            for (int64_t i = 0; i < run.count; ++i) {
                error.x.push_back(run.epoch_position[i]);
                error.y.push_back(100.0 - run.test_accuracy[i]);
                loss.x.push_back(run.epoch_position[i]);
                loss.y.push_back(run.test_loss[i]);
            }
            plot.series.push_back(error);
            plot.series.push_back(loss);
        }
        save(plot, "base_training");
    }
    if (r.spread) {
        // Observed against nominal coverage of the central intervals: on the diagonal is calibrated,
        // below it overconfident.
        Plot plot{"Calibration of the forecast distributions (test windows, PCA components)",
                  "nominal coverage of the central interval", "observed coverage", {}, false};
        const std::vector<double>& levels = calibration_levels();
        plot.series.push_back({"calibrated", levels, levels, {0, 0, 0}, SeriesStyle::kDashedLine});
        for (size_t e = 0; e < r.spread->entries.size(); ++e) {
            const SpreadEvaluation::Entry& entry = r.spread->entries[e];
            std::string name = "Gaussian (last value, train step RMS)";
            for (const ForecasterInfo& f : r.forecasters)
                if (f.names.key == entry.key) name = f.names.column;
            plot.series.push_back({name, levels, entry.score.coverage, colors[(e + 1) % colors.size()], SeriesStyle::kLinePoints});
        }
        save(plot, "calibration");
    }
    // The sampling forecasters' draws along each run's path: PC1's change since the path's last
    // input (so that runs far apart on PC1 share a scale where the band shows) against the
    // snapshot index, the true run, the draws' mean and their central 90% band.
    if (r.extrapolation && r.data)
        for (size_t f = 0; f < n; ++f) {
            bool sampled = false;
            for (const Extrapolation::RunPath& path : r.extrapolation->paths) sampled |= !path.sampled[f].empty();
            if (!sampled) continue;
            const PredictorData& data = *r.data;
            const int64_t d = data.space.dim();
            Plot plot{"The " + r.forecasters[f].names.column + " draws along each run's path (band: central 90% of the draws)",
                      "snapshot", "PC1 score minus its value at the path's last input", {}, false};
            plot.integer_x = true;
            for (size_t p = 0; p < r.extrapolation->paths.size(); ++p) {
                const Extrapolation::RunPath& path = r.extrapolation->paths[p];
                const RunSnapshots& run = data.runs.runs[path.run_index];
                const Rgb color = colors[p % colors.size()];
                const double origin = data.scores[path.run_index][(path.start - 1) * d];
                Series truth{"run " + std::to_string(run.run) + " true", {}, {}, color, SeriesStyle::kDashedLine};
                for (int64_t i = std::max<int64_t>(0, path.start - 2 * data.sequence_length); i < std::min<int64_t>(run.count, path.start + path.steps); ++i) {
                    truth.x.push_back(double(i));
                    truth.y.push_back(data.scores[path.run_index][i * d] - origin);
                }
                plot.series.push_back(truth);
                const std::vector<float>& draws = path.sampled[f];
                const int64_t samples = int64_t(draws.size()) / (int64_t(path.steps) * d);
                Series mean{"run " + std::to_string(run.run) + " " + r.forecasters[f].names.column, {}, {}, color, SeriesStyle::kLinePoints};
                std::vector<float> column(samples);
                for (int i = 0; i < path.steps; ++i) {
                    for (int64_t k = 0; k < samples; ++k) column[k] = draws[(k * path.steps + i) * d];
                    std::sort(column.begin(), column.end());
                    mean.x.push_back(double(path.start + i));
                    mean.y.push_back(path.predicted[f][i * d] - origin);
                    mean.low.push_back(sample_quantile(column.data(), samples, 0.05) - origin);
                    mean.high.push_back(sample_quantile(column.data(), samples, 0.95) - origin);
                }
                plot.series.push_back(mean);
            }
            save(plot, (r.forecasters[f].names.key + "_draws").c_str());
        }
}

}  // namespace twp
