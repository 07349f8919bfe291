// Aggregating a study's units and writing its folder; see study.hpp.
#include "experiment/study.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
using report::interval_json;
using report::interval_text;
using report::number;
using report::padded_right;

int find_key(const std::vector<ForecasterInfo>& forecasters, const std::string& key) {
    for (size_t f = 0; f < forecasters.size(); ++f)
        if (forecasters[f].names.key == key) return int(f);
    return -1;
}

// A plug-in series' column head: the forecaster's, or the two references'.
std::string series_column(const std::vector<ForecasterInfo>& forecasters, const std::string& series) {
    const int f = find_key(forecasters, series);
    if (f >= 0) return forecasters[f].names.column;
    return series == "true_snapshot" ? "true snapshot" : series == "true_pca_round_trip" ? "true after PCA" : series;
}

// Per-window errors of forecaster f grouped by run: the strata of the paired bootstrap.
void add_strata(const DirectEvaluation& direct, const std::vector<int>& run_of_window, size_t f, size_t reference,
                int group, PairedErrors& paired) {
    std::vector<int> runs;
    for (const int r : run_of_window)
        if (std::find(runs.begin(), runs.end(), r) == runs.end()) runs.push_back(r);
    for (const int run : runs) {
        std::vector<double> errors, ref;
        for (size_t w = 0; w < run_of_window.size(); ++w)
            if (run_of_window[w] == run) {
                errors.push_back(direct.forecasters[f].per_window_weight[w]);
                ref.push_back(direct.forecasters[reference].per_window_weight[w]);
            }
        paired.errors.push_back(std::move(errors));
        paired.reference.push_back(std::move(ref));
        paired.group.push_back(group);
    }
}

const char* split_description(const std::string& split) {
    return split == "time" ? "each run's first snapshots train, the rest test (the reference's split)"
                           : "one run held out at a time: PCA and every fit on the others, tested on it";
}

// Per repeat, each spread entry's scores pooled over the repeat's units (weighted by their values),
// then the mean over repeats with its interval.
std::vector<SplitAggregate::Spread> aggregate_spread(const std::vector<const UnitRecord*>& units) {
    std::vector<SplitAggregate::Spread> result;
    if (units.empty()) return result;
    std::vector<int> repeats;
    for (const UnitRecord* u : units)
        if (std::find(repeats.begin(), repeats.end(), u->repeat) == repeats.end()) repeats.push_back(u->repeat);
    for (const SpreadEvaluation::Entry& entry : units.front()->spread) {
        std::vector<double> c50, c90, crps, ratio;
        for (const int repeat : repeats) {
            double values = 0, s50 = 0, s90 = 0, scrps = 0, gaussian = 0;
            for (const UnitRecord* u : units) {
                if (u->repeat != repeat) continue;
                for (const SpreadEvaluation::Entry& e : u->spread) {
                    const double v = double(e.score.values);
                    if (e.key == "gaussian") gaussian += e.score.crps * v;
                    if (e.key != entry.key) continue;
                    values += v;
                    s50 += e.score.coverage50 * v;
                    s90 += e.score.coverage90 * v;
                    scrps += e.score.crps * v;
                }
            }
            if (values == 0) continue;
            c50.push_back(s50 / values);
            c90.push_back(s90 / values);
            crps.push_back(scrps / values);
            ratio.push_back(entry.key == "gaussian" || gaussian == 0 ? NAN : scrps / gaussian);
        }
        result.push_back({entry.key, mean_interval(c50), mean_interval(c90), mean_interval(crps), mean_interval(ratio)});
    }
    return result;
}

}  // namespace

UnitRecord record_unit(const ExperimentResults& unit, int repeat, const std::string& split, int fold) {
    TWP_CHECK(unit.direct && unit.data, "a study unit is evaluated directly");
    UnitRecord r;
    r.repeat = repeat;
    r.split = split;
    r.fold = fold;
    r.dir = unit.dir;
    r.forecasters = unit.forecasters;
    r.direct = *unit.direct;
    for (const Window& w : unit.direct->tested) r.run_of_window.push_back(unit.data->runs.runs[w.run_index].run);
    if (unit.extrapolation) {
        r.extrapolation_weight_mse = unit.extrapolation->weight_mse;
        r.runs_per_step = unit.extrapolation->runs_per_step;
    }
    if (unit.plugin) {
        r.plugin_series = unit.plugin->series;
        // Only the tested runs' rows (a fold's train runs have none).
        for (const auto& series : unit.plugin->per_run) {
            std::vector<std::vector<double>> tested;
            for (const auto& run : series)
                if (std::any_of(run.begin(), run.end(), [](double a) { return std::isfinite(a); })) tested.push_back(run);
            r.plugin_per_run.push_back(std::move(tested));
        }
    }
    r.base_runs = unit.base_runs;
    if (unit.spread) r.spread = unit.spread->entries;
    return r;
}

std::vector<RatioVerdict> unit_verdicts(const std::vector<ForecasterInfo>& forecasters, const DirectEvaluation& direct,
                                        uint64_t seed) {
    std::vector<RatioVerdict> verdicts(forecasters.size());
    const int reference = find_key(forecasters, "last_value");
    std::vector<int> run_of_window;
    for (const Window& w : direct.tested) run_of_window.push_back(w.run_index);
    for (size_t f = 0; f < forecasters.size(); ++f) {
        if (reference < 0) {
            verdicts[f].ratio = verdicts[f].low = verdicts[f].high = NAN;
            verdicts[f].verdict = "n/a (last_value is not among --forecasters)";
            continue;
        }
        PairedErrors paired;
        add_strata(direct, run_of_window, f, size_t(reference), 0, paired);
        verdicts[f] = ratio_to_reference(paired, seed);
    }
    return verdicts;
}

std::vector<SplitAggregate> aggregate_units(const std::vector<UnitRecord>& units, uint64_t seed) {
    std::vector<SplitAggregate> result;
    for (const char* split : {"time", "runs"}) {
        std::vector<const UnitRecord*> of_split;
        for (const UnitRecord& u : units)
            if (u.split == split) of_split.push_back(&u);
        if (of_split.empty()) continue;
        SplitAggregate a;
        a.split = split;
        a.forecasters = of_split.front()->forecasters;
        const size_t n = a.forecasters.size();
        for (const UnitRecord* u : of_split)
            TWP_CHECK(u->forecasters.size() == n, "the units of a study evaluate the same forecasters");
        std::vector<int> repeats;
        for (const UnitRecord* u : of_split)
            if (std::find(repeats.begin(), repeats.end(), u->repeat) == repeats.end()) repeats.push_back(u->repeat);

        // Per repeat: the split's MSE over all its test windows (folds merged), per forecaster.
        a.weight_mse_per_repeat.assign(n, {});
        std::vector<std::vector<double>> pca_per_repeat(n);
        size_t steps = 0;
        for (const UnitRecord* u : of_split)
            for (const auto& row : u->extrapolation_weight_mse) steps = std::max(steps, row.size());
        std::vector<std::vector<std::vector<double>>> step_per_repeat(n, std::vector<std::vector<double>>(steps));
        size_t n_series = of_split.front()->plugin_series.size();
        a.plugin_series = of_split.front()->plugin_series;
        std::vector<std::vector<std::vector<double>>> plugin_per_repeat(n_series, std::vector<std::vector<double>>(steps));
        for (const int repeat : repeats) {
            std::vector<double> weight_sum(n, 0.0), pca_sum(n, 0.0);
            int64_t windows = 0;
            std::vector<std::vector<double>> step_sum(n, std::vector<double>(steps, 0.0));
            std::vector<std::vector<int>> step_runs(n, std::vector<int>(steps, 0));
            std::vector<std::vector<double>> plugin_sum(n_series, std::vector<double>(steps, 0.0));
            std::vector<std::vector<int>> plugin_count(n_series, std::vector<int>(steps, 0));
            for (const UnitRecord* u : of_split) {
                if (u->repeat != repeat) continue;
                windows += u->direct.windows;
                for (size_t f = 0; f < n; ++f) {
                    weight_sum[f] += u->direct.forecasters[f].weight_mse * double(u->direct.windows);
                    pca_sum[f] += u->direct.forecasters[f].pca_mse * double(u->direct.windows);
                    for (size_t i = 0; i < u->extrapolation_weight_mse[f].size(); ++i)
                        if (u->runs_per_step[f][i] > 0) {
                            step_sum[f][i] += u->extrapolation_weight_mse[f][i] * u->runs_per_step[f][i];
                            step_runs[f][i] += u->runs_per_step[f][i];
                        }
                }
                for (size_t s = 0; s < n_series && s < u->plugin_per_run.size(); ++s)
                    for (const auto& run : u->plugin_per_run[s])
                        for (size_t i = 0; i < run.size() && i < steps; ++i)
                            if (std::isfinite(run[i])) {
                                plugin_sum[s][i] += run[i];
                                ++plugin_count[s][i];
                            }
            }
            a.windows = windows;
            for (size_t f = 0; f < n; ++f) {
                a.weight_mse_per_repeat[f].push_back(windows ? weight_sum[f] / double(windows) : NAN);
                pca_per_repeat[f].push_back(windows ? pca_sum[f] / double(windows) : NAN);
                for (size_t i = 0; i < steps; ++i)
                    step_per_repeat[f][i].push_back(step_runs[f][i] ? step_sum[f][i] / step_runs[f][i] : NAN);
            }
            for (size_t s = 0; s < n_series; ++s)
                for (size_t i = 0; i < steps; ++i)
                    plugin_per_repeat[s][i].push_back(plugin_count[s][i] ? plugin_sum[s][i] / plugin_count[s][i] : NAN);
        }
        for (size_t f = 0; f < n; ++f) {
            a.weight_mse.push_back(mean_interval(a.weight_mse_per_repeat[f]));
            a.pca_mse.push_back(mean_interval(pca_per_repeat[f]));
            std::vector<Interval> per_step;
            for (size_t i = 0; i < steps; ++i) per_step.push_back(mean_interval(step_per_repeat[f][i]));
            a.extrapolation.push_back(per_step);
        }
        for (size_t s = 0; s < n_series; ++s) {
            std::vector<Interval> per_step;
            for (size_t i = 0; i < steps; ++i) per_step.push_back(mean_interval(plugin_per_repeat[s][i]));
            a.plugin.push_back(per_step);
        }
        // Verdicts: every window of every repeat, paired with last value's; strata are runs of a
        // repeat, and a resample draws whole repeats.
        const int reference = find_key(a.forecasters, "last_value");
        for (size_t f = 0; f < n; ++f) {
            if (reference < 0) {
                RatioVerdict none;
                none.ratio = none.low = none.high = NAN;
                none.verdict = "n/a (last_value is not among --forecasters)";
                a.verdicts.push_back(none);
                continue;
            }
            PairedErrors paired;
            for (const UnitRecord* u : of_split) add_strata(u->direct, u->run_of_window, f, size_t(reference), u->repeat, paired);
            a.verdicts.push_back(ratio_to_reference(paired, seed));
        }
        a.spread = aggregate_spread(of_split);
        result.push_back(std::move(a));
    }
    return result;
}

std::string study_summary_text(const StudyResults& s) {
    std::ostringstream t;
    t << "Experiment Results Summary: " << s.repeats << " repeat" << (s.repeats > 1 ? "s" : "") << ", split"
      << (s.splits.size() > 1 ? "s " : " ");
    for (size_t i = 0; i < s.splits.size(); ++i) t << (i ? " and " : "") << s.splits[i].split;
    t << "\n" << std::string(50, '=') << "\n\n";
    if (!s.notes.empty()) t << s.notes << "\n";
    t << "Every figure: the mean over the repeats [its 95% interval, Student t over repeats]. Ratios to last value:\n"
         "the summed weight-space squared error over all test windows of all repeats, divided by last value's on\n"
         "the same windows [95% paired bootstrap: whole repeats drawn, blocks of neighbouring windows within runs].\n"
         "Each unit's own folder (repeat_<i>/...) holds its full results, models and plots.\n\n";
    if (!s.base_runs.empty()) {
        t << "Base models (final test accuracy per run):\n";
        for (size_t i = 0; i < s.base_runs.size(); ++i) {
            t << "  repeat " << i + 1 << ":";
            for (const RunSummary& run : s.base_runs[i])
                t << " run " << run.run << " (seed " << run.seed << ") " << format("%.2f", run.final_test.accuracy) << "%;";
            t << "\n";
        }
        t << "\n";
    }
    for (const SplitAggregate& a : s.splits) {
        const size_t n = a.forecasters.size();
        t << "Split \"" << a.split << "\": " << split_description(a.split) << "; " << a.windows
          << " test windows per repeat.\n";
        t << "Direct next-snapshot MSE:\n";
        size_t label_width = 12;
        for (const ForecasterInfo& f : a.forecasters) label_width = std::max(label_width, f.names.label.size() + 2);
        t << "  " << padded_right("forecaster", label_width) << padded_right("weight space", 34) << padded_right("PCA space", 34)
          << "ratio to last value [95%]\n";
        for (size_t f = 0; f < n; ++f) {
            const RatioVerdict& v = a.verdicts[f];
            std::string ratio = format("%.4g", v.ratio);
            if (std::isfinite(v.low)) ratio += " [" + format("%.4g", v.low) + ", " + format("%.4g", v.high) + "]";
            t << "  " << padded_right(a.forecasters[f].names.label, label_width)
              << padded_right(interval_text(a.weight_mse[f], "%.3e"), 34)
              << padded_right(interval_text(a.pca_mse[f], "%.3e"), 34) << ratio << "\n";
        }
        t << "Verdicts against last value (weight space):\n";
        for (size_t f = 0; f < n; ++f)
            if (a.forecasters[f].names.key != "last_value") t << verdict_line(a.forecasters[f].names.noun, a.verdicts[f]);
        const size_t steps = a.extrapolation.empty() ? 0 : a.extrapolation[0].size();
        if (steps > 0) {
            t << "Multi-step extrapolation MSE (weight space), mean over repeats:\n         ";
            for (const ForecasterInfo& f : a.forecasters) t << " " << padded_right(f.names.column, 15);
            t << "\n";
            for (size_t i = 0; i < steps; ++i) {
                t << "  Step " << i + 1 << ":";
                for (size_t f = 0; f < n; ++f) t << " " << padded_right(format("%.4e", a.extrapolation[f][i].mean), 15);
                t << "\n";
            }
        }
        if (!a.spread.empty()) {
            t << "Forecast spread (PCA space, next snapshot of every test window, per component), mean over repeats [95%]:\n";
            t << "  " << padded_right("", 40) << padded_right("50% covered", 24) << padded_right("90% covered", 24)
              << padded_right("CRPS", 30) << "CRPS / Gaussian's\n";
            for (const SplitAggregate::Spread& sp : a.spread) {
                const std::string name = sp.key == "gaussian" ? "Gaussian (last value, train step RMS)"
                                                              : series_column(a.forecasters, sp.key);
                t << "  " << padded_right(name, 40) << padded_right(interval_text(sp.coverage50, "%.3f"), 24)
                  << padded_right(interval_text(sp.coverage90, "%.3f"), 24) << padded_right(interval_text(sp.crps, "%.4g"), 30)
                  << (sp.key == "gaussian" ? std::string("") : interval_text(sp.crps_ratio, "%.3g")) << "\n";
            }
        }
        if (!a.plugin.empty() && steps > 0) {
            t << "Plug-in test accuracy (%), mean over repeats [95%]:\n";
            for (size_t sr = 0; sr < a.plugin.size(); ++sr) {
                t << "  " << padded_right(series_column(a.forecasters, a.plugin_series[sr]), 22);
                for (size_t i = 0; i < a.plugin[sr].size(); ++i) t << " " << padded_right(interval_text(a.plugin[sr][i], "%.2f"), 22);
                t << "\n";
            }
        }
        t << "\n";
    }
    if (!s.stage_seconds.empty()) {
        t << "Stage times (all repeats):";
        for (const auto& [stage, seconds] : s.stage_seconds) t << " " << stage << " " << format("%.1f", seconds) << " s;";
        t << "\n";
    }
    return t.str();
}

void write_study(const StudyResults& s) {
    write_file_atomically(s.dir / "results_summary.txt", study_summary_text(s));
    Json j;
    j["mode"] = s.mode;
    j["backend"] = s.backend;
    j["dataset"] = s.dataset;
    j["repeats"] = s.repeats;
    j["notes"] = s.notes;
    Json units = Json::array();
    for (const UnitRecord& u : s.units)
        units.push_back({{"repeat", u.repeat}, {"split", u.split}, {"fold", u.fold},
                         {"folder", std::filesystem::relative(u.dir, s.dir).string()}});
    j["units"] = units;
    Json verdicts = Json::array(), splits = Json::object();
    for (const SplitAggregate& a : s.splits) {
        Json split = {{"test_windows_per_repeat", a.windows}};
        Json forecasters = Json::object();
        for (size_t f = 0; f < a.forecasters.size(); ++f) {
            const RatioVerdict& v = a.verdicts[f];
            Json per_step = Json::array();
            for (const Interval& i : a.extrapolation[f]) per_step.push_back(interval_json(i));
            Json per_repeat = Json::array();
            for (double m : a.weight_mse_per_repeat[f]) per_repeat.push_back(number(m));
            forecasters[a.forecasters[f].names.key] = {
                {"label", a.forecasters[f].names.label},
                {"role", a.forecasters[f].role == ForecasterRole::kLearned ? "learned" : "baseline"},
                {"direct_weight_mse", interval_json(a.weight_mse[f])},
                {"direct_weight_mse_per_repeat", per_repeat},
                {"direct_pca_mse", interval_json(a.pca_mse[f])},
                {"ratio_to_last_value", {{"ratio", number(v.ratio)}, {"low", number(v.low)}, {"high", number(v.high)},
                                         {"verdict", v.verdict}}},
                {"extrapolation_weight_mse_per_step", per_step}};
            verdicts.push_back({{"split", a.split}, {"forecaster", a.forecasters[f].names.key}, {"ratio", number(v.ratio)},
                                {"low", number(v.low)}, {"high", number(v.high)}, {"verdict", v.verdict}});
        }
        split["forecasters"] = forecasters;
        Json plugin = Json::object();
        for (size_t sr = 0; sr < a.plugin.size(); ++sr) {
            Json per_step = Json::array();
            for (const Interval& i : a.plugin[sr]) per_step.push_back(interval_json(i));
            plugin[a.plugin_series[sr]] = per_step;
        }
        split["plug_in_accuracy_per_step"] = plugin;
        Json spread = Json::object();
        for (const SplitAggregate::Spread& sp : a.spread)
            spread[sp.key] = {{"coverage_50", interval_json(sp.coverage50)}, {"coverage_90", interval_json(sp.coverage90)},
                              {"crps", interval_json(sp.crps)}, {"crps_ratio_to_gaussian", interval_json(sp.crps_ratio)}};
        if (!a.spread.empty()) split["spread"] = spread;
        splits[a.split] = split;
    }
    j["splits"] = splits;
    j["verdicts"] = verdicts;
    Json times = Json::object();
    for (const auto& [stage, seconds] : s.stage_seconds) times[stage] = seconds;
    j["stage_seconds"] = times;
    write_file_atomically(s.dir / "results.json", j.dump(2) + "\n");

    // Plots with bands over the repeats.
    const std::vector<Rgb> colors = palette();
    const auto save = [&](const Plot& plot, const std::string& name) {
        save_plot_png(s.dir / "plots" / (name + ".png"), plot);
        save_plot_csv(s.dir / "plots" / (name + ".csv"), plot);
    };
    const auto banded = [&](const std::string& name, const std::vector<Interval>& values, Rgb color, SeriesStyle style) {
        Series series{name, {}, {}, color, style};
        for (size_t i = 0; i < values.size(); ++i) {
            series.x.push_back(double(i + 1));
            series.y.push_back(values[i].mean);
            series.low.push_back(values[i].low);
            series.high.push_back(values[i].high);
        }
        return series;
    };
    for (const SplitAggregate& a : s.splits) {
        const std::string band = s.repeats > 1 ? ", bands: 95% over " + std::to_string(s.repeats) + " repeats" : "";
        Plot mse{"Multi-step extrapolation error (" + a.split + " split" + band + ")", "extrapolation step",
                 "MSE (weight space)", {}, true};
        mse.integer_x = true;
        for (size_t f = 0; f < a.forecasters.size(); ++f)
            mse.series.push_back(banded(a.forecasters[f].names.label, a.extrapolation[f], colors[f % colors.size()],
                                        a.forecasters[f].role == ForecasterRole::kLearned ? SeriesStyle::kLinePoints
                                                                                          : SeriesStyle::kDashedLine));
        save(mse, "extrapolation_error_" + a.split);
        if (!a.plugin.empty()) {
            Plot acc{"Plug-in accuracy of the extrapolated weights (" + a.split + " split" + band + ")",
                     "extrapolation step", "LeNet-5 test accuracy (%)", {}, false};
            acc.integer_x = true;
            for (size_t sr = 0; sr < a.plugin.size(); ++sr) {
                const int f = find_key(a.forecasters, a.plugin_series[sr]);
                acc.series.push_back(banded(series_column(a.forecasters, a.plugin_series[sr]), a.plugin[sr],
                                            colors[sr % colors.size()],
                                            f < 0 ? SeriesStyle::kDashedLine : SeriesStyle::kLinePoints));
            }
            save(acc, "plug_in_accuracy_" + a.split);
        }
        // Each forecaster's ratio to last value with its interval, one point per forecaster.
        Plot ratio{"Direct MSE relative to last value (" + a.split + " split, 95% paired bootstrap)",
                   "forecaster (in the list's order)", "weight-space MSE / last value's", {}, true};
        ratio.integer_x = true;
        for (size_t f = 0; f < a.forecasters.size(); ++f) {
            const RatioVerdict& v = a.verdicts[f];
            const Rgb color = colors[f % colors.size()];
            ratio.series.push_back({"", {double(f + 1), double(f + 1)}, {v.low, v.high}, color, SeriesStyle::kLine});
            ratio.series.push_back({a.forecasters[f].names.column, {double(f + 1)}, {v.ratio}, color, SeriesStyle::kPoints});
        }
        ratio.series.push_back({"last value = 1", {0.5, double(a.forecasters.size()) + 0.5}, {1.0, 1.0},
                                Rgb{80, 80, 80}, SeriesStyle::kDashedLine});
        save(ratio, "direct_ratio_" + a.split);
    }
}

}  // namespace twp
