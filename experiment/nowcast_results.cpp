// The nowcasting experiment's outputs; see nowcast_results.hpp.
#include "experiment/nowcast_results.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/plot.hpp"
#include "experiment/report_format.hpp"

namespace twp {
namespace {

using report::format;
using report::interval_json;
using report::interval_text;
using report::Json;
using report::number;
using report::numbers;
using report::padded_right;

const ForecasterInfo* find_info(const NowcastResults& r, const std::string& key) {
    for (const ForecasterInfo& f : r.forecasters)
        if (f.names.key == key) return &f;
    return nullptr;
}

std::string legend(const NowcastResults& r, const std::string& key) {
    if (key == "control") return "plain SGD (control)";
    const ForecasterInfo* info = find_info(r, key);
    return info ? info->names.column : key;
}

std::string percent_interval(const Interval& i) {
    Interval p{100 * i.mean, 100 * i.low, 100 * i.high, i.count};
    return interval_text(p, "%+.1f%%");
}

// "saves steps", "costs steps" or "no significant saving", from the saving's interval.
std::string saving_verdict(const Interval& saving) {
    if (saving.count == 0) return "no saving measurable (a run never reached the target)";
    if (!std::isfinite(saving.low))
        return saving.mean > 0 ? "saves steps (one seed: no interval)"
                               : saving.mean < 0 ? "costs steps (one seed: no interval)" : "no saving (one seed)";
    if (saving.low > 0) return "saves steps";
    if (saving.high < 0) return "costs steps: LOSES to plain SGD";
    return "no significant saving";
}

std::vector<const NowcastRun*> runs_of(const NowcastResults& r, const std::string& key) {
    std::vector<const NowcastRun*> found;
    for (uint64_t seed : r.seeds)
        for (const NowcastRun& run : r.runs)
            if (run.key == key && run.seed == seed) found.push_back(&run);
    return found;
}

// The mean accuracy over seeds at each snapshot with its interval (the runs share the schedule;
// a snapshot some run lacks is left out).
Series accuracy_series(const NowcastResults& r, const std::string& key, Rgb color, double floor) {
    Series s;
    s.name = legend(r, key);
    s.color = color;
    s.style = SeriesStyle::kLine;
    const std::vector<const NowcastRun*> runs = runs_of(r, key);
    if (runs.empty()) return s;
    size_t count = runs.front()->steps.size();
    for (const NowcastRun* run : runs) count = std::min(count, run->steps.size());
    for (size_t i = 0; i < count; ++i) {
        std::vector<double> values;
        for (const NowcastRun* run : runs) values.push_back(run->accuracy[i]);
        const Interval m = mean_interval(values);
        const bool shown = m.mean >= floor;
        s.x.push_back(double(runs.front()->steps[i]));
        s.y.push_back(shown ? m.mean : NAN);
        s.low.push_back(shown && std::isfinite(m.low) ? std::max(m.low, floor) : (shown ? m.mean : NAN));
        s.high.push_back(shown && std::isfinite(m.high) ? m.high : (shown ? m.mean : NAN));
    }
    return s;
}

void write_plots(const NowcastResults& r) {
    const std::vector<Rgb> colors = palette();
    const double lowest = r.targets.empty() ? 0 : *std::min_element(r.targets.begin(), r.targets.end());
    for (const bool top : {false, true}) {
        Plot plot;
        plot.title = std::string("Test accuracy, mean and 95% band over ") + std::to_string(r.seeds.size()) +
                     " seed" + (r.seeds.size() > 1 ? "s" : "") + (top ? ", from the lowest target - 1" : "");
        plot.x_label = "SGD steps";
        plot.y_label = "test accuracy (%)";
        plot.integer_x = true;
        // The control last, dashed and black, so that a nowcaster that never moves it stays visible.
        for (size_t k = 1; k < r.keys.size(); ++k)
            plot.series.push_back(accuracy_series(r, r.keys[k], colors[(k - 1) % colors.size()], top ? lowest - 1 : -1));
        Series control = accuracy_series(r, r.keys.front(), Rgb{0, 0, 0}, top ? lowest - 1 : -1);
        control.style = SeriesStyle::kDashedLine;
        plot.series.push_back(control);
        const std::string name = top ? "nowcast_accuracy_top" : "nowcast_accuracy";
        save_plot_png(r.dir / "plots" / (name + ".png"), plot);
        save_plot_csv(r.dir / "plots" / (name + ".csv"), plot);
    }
}

void write_csvs(const NowcastResults& r) {
    std::ostringstream accuracy, targets, jumps;
    accuracy.precision(10);
    targets.precision(10);
    jumps.precision(10);
    accuracy << "forecaster,seed,step,seconds,test_accuracy,test_loss,jump\n";
    jumps << "forecaster,seed,step,test_loss_before,test_loss_after,test_accuracy_before,test_accuracy_after,"
             "forecast_seconds\n";
    for (const NowcastRun& run : r.runs) {
        for (size_t i = 0; i < run.steps.size(); ++i) {
            bool jumped = false;
            for (const JumpRecord& j : run.jumps) jumped = jumped || j.step == run.steps[i];
            accuracy << run.key << "," << run.seed << "," << run.steps[i] << "," << run.seconds[i] << ","
                     << run.accuracy[i] << "," << run.loss[i] << "," << (jumped ? 1 : 0) << "\n";
        }
        for (size_t j = 0; j < run.jumps.size(); ++j)
            jumps << run.key << "," << run.seed << "," << run.jumps[j].step << "," << run.jumps[j].loss_before << ","
                  << run.loss_after[j] << "," << run.jumps[j].accuracy_before << "," << run.accuracy_after[j] << ","
                  << run.jumps[j].forecast_seconds << "\n";
    }
    targets << "forecaster,seed,target,steps,seconds,step_saving,time_saving\n";
    for (const NowcastMeasure& m : r.measures)
        for (const TargetMeasure& t : m.targets)
            for (size_t s = 0; s < m.seeds.size(); ++s) {
                auto cell = [](double v) {
                    std::ostringstream c;
                    c.precision(10);
                    if (std::isfinite(v)) c << v;
                    return c.str();
                };
                targets << m.key << "," << m.seeds[s] << "," << t.target << "," << cell(t.steps[s]) << ","
                        << cell(t.seconds[s]) << "," << cell(t.step_saving[s]) << "," << cell(t.time_saving[s]) << "\n";
            }
    write_file_atomically(r.dir / "nowcast_accuracy.csv", accuracy.str());
    write_file_atomically(r.dir / "nowcast_targets.csv", targets.str());
    write_file_atomically(r.dir / "nowcast_jumps.csv", jumps.str());
}

Json results_json(const NowcastResults& r) {
    Json j;
    j["mode"] = "nowcast";
    j["dataset"] = r.dataset;
    j["backend"] = r.backend;
    j["command"] = r.command;
    j["plan"] = {{"nowcast_every", r.every},   {"history", r.history},     {"nowcast_horizon", r.horizon},
                 {"nowcast_momentum", r.momentum}, {"targets", r.targets}, {"seeds", r.seeds},
                 {"fit_runs", r.fit_runs}};
    Json forecasters = Json::array();
    for (const ForecasterInfo& f : r.forecasters) {
        Json facts = Json::object();
        for (const ForecasterFact& fact : f.facts) facts[fact.key] = fact.value;
        forecasters.push_back({{"key", f.names.key},
                               {"label", f.names.label},
                               {"role", f.role == ForecasterRole::kLearned ? "learned" : "baseline"},
                               {"facts", facts}});
    }
    j["forecasters"] = forecasters;
    Json measures = Json::array();
    for (const NowcastMeasure& m : r.measures) {
        Json targets = Json::array();
        for (const TargetMeasure& t : m.targets)
            targets.push_back({{"target", t.target},
                               {"reached", t.reached},
                               {"steps", numbers(t.steps)},
                               {"seconds", numbers(t.seconds)},
                               {"step_saving", numbers(t.step_saving)},
                               {"time_saving", numbers(t.time_saving)},
                               {"steps_interval", interval_json(t.steps_interval)},
                               {"seconds_interval", interval_json(t.seconds_interval)},
                               {"step_saving_interval", interval_json(t.step_saving_interval)},
                               {"time_saving_interval", interval_json(t.time_saving_interval)}});
        measures.push_back({{"forecaster", m.key},
                            {"seeds", m.seeds},
                            {"targets", targets},
                            {"final_accuracy", numbers(m.final_accuracy)},
                            {"final_accuracy_interval", interval_json(m.final_accuracy_interval)},
                            {"final_gain", numbers(m.final_gain)},
                            {"final_gain_interval", interval_json(m.final_gain_interval)},
                            {"jumps", m.jumps},
                            {"jumps_worse", m.worse_jumps}});
    }
    j["measures"] = measures;
    Json runs = Json::array();
    for (const NowcastRun& run : r.runs) {
        Json jumps = Json::array();
        for (size_t i = 0; i < run.jumps.size(); ++i)
            jumps.push_back({{"step", run.jumps[i].step},
                             {"test_loss_before", number(run.jumps[i].loss_before)},
                             {"test_loss_after", number(run.loss_after[i])},
                             {"test_accuracy_before", number(run.jumps[i].accuracy_before)},
                             {"test_accuracy_after", number(run.accuracy_after[i])},
                             {"forecast_seconds", number(run.jumps[i].forecast_seconds)}});
        runs.push_back({{"forecaster", run.key},
                        {"seed", run.seed},
                        {"steps", run.steps},
                        {"seconds", numbers(run.seconds)},
                        {"test_accuracy", numbers(run.accuracy)},
                        {"test_loss", numbers(run.loss)},
                        {"jumps", jumps}});
    }
    j["runs"] = runs;
    Json stages = Json::object();
    for (const auto& [name, seconds] : r.stage_seconds) stages[name] = seconds;
    j["stage_seconds"] = stages;
    j["notes"] = r.notes;
    return j;
}

}  // namespace

std::string nowcast_summary_text(const NowcastResults& r) {
    std::ostringstream t;
    t << "twp nowcast: does jumping to a forecast of the weights train LeNet-5 in fewer SGD steps?\n";
    t << "Made by: twp " << r.command << "\n";
    t << "Dataset " << r.dataset << "; backend " << r.backend << "; " << r.seeds.size() << " seed"
      << (r.seeds.size() > 1 ? "s" : "") << " (";
    for (size_t s = 0; s < r.seeds.size(); ++s) t << (s ? ", " : "") << r.seeds[s];
    t << "), each run as plain SGD (the control) and once per forecaster.\n";
    t << "The forecasters were fitted on " << r.fit_runs << " other runs' trajectories. A jump: at a snapshot at least "
      << r.every << " SGD steps after the last one, from the " << r.history
      << " (or the forecaster's minimum) snapshots since it, " << r.horizon << " snapshot interval"
      << (r.horizon > 1 ? "s" : "") << " ahead; momentum: " << r.momentum << ".\n";
    t << "Figures: mean over seeds [95% Student-t interval]; savings are paired by seed, 1 - nowcast / control.\n";
    for (size_t ti = 0; ti < r.targets.size(); ++ti) {
        t << "\nTo " << format("%.2f", r.targets[ti]) << "% test accuracy:\n";
        t << "  " << padded_right("", 22) << padded_right("reached", 9) << padded_right("SGD steps", 26)
          << padded_right("step saving", 26) << padded_right("seconds", 24) << "time saving\n";
        for (const NowcastMeasure& m : r.measures) {
            const TargetMeasure& x = m.targets[ti];
            const bool control = m.key == "control";
            t << "  " << padded_right(legend(r, m.key), 22)
              << padded_right(std::to_string(x.reached) + "/" + std::to_string(m.seeds.size()), 9)
              << padded_right(interval_text(x.steps_interval, "%.0f"), 26)
              << padded_right(control ? "-" : percent_interval(x.step_saving_interval), 26)
              << padded_right(interval_text(x.seconds_interval, "%.1f"), 24)
              << (control ? "-" : percent_interval(x.time_saving_interval)) << "\n";
        }
    }
    t << "\nTest accuracy at the control's final step count (gain over the control, paired):\n";
    for (const NowcastMeasure& m : r.measures) {
        t << "  " << padded_right(legend(r, m.key), 22) << interval_text(m.final_accuracy_interval, "%.2f") << "%";
        if (m.key != "control") t << "  (" << interval_text(m.final_gain_interval, "%+.2f") << " points)";
        t << "\n";
    }
    t << "\nJumps that made the test loss worse:\n";
    for (const NowcastMeasure& m : r.measures) {
        if (m.key == "control") continue;
        t << "  " << padded_right(legend(r, m.key), 22) << m.worse_jumps << " of " << m.jumps;
        if (m.jumps > 0) t << " (" << format("%.0f", 100.0 * double(m.worse_jumps) / double(m.jumps)) << "%)";
        t << "\n";
    }
    if (!r.targets.empty()) {
        const size_t top = size_t(std::max_element(r.targets.begin(), r.targets.end()) - r.targets.begin());
        t << "\nVerdicts (steps to " << format("%.2f", r.targets[top]) << "%, against plain SGD):\n";
        for (const NowcastMeasure& m : r.measures) {
            if (m.key == "control") continue;
            const TargetMeasure& x = m.targets[top];
            t << "  -> " << legend(r, m.key) << ": " << percent_interval(x.step_saving_interval) << " steps saved ("
              << x.reached << "/" << m.seeds.size() << " seeds reach it); " << saving_verdict(x.step_saving_interval)
              << "; final accuracy " << interval_text(m.final_gain_interval, "%+.2f") << " points\n";
        }
    }
    bool any_facts = false;
    for (const ForecasterInfo& f : r.forecasters) any_facts = any_facts || !f.facts.empty();
    if (any_facts) {
        t << "\nWhat the fits chose:\n";
        for (const ForecasterInfo& f : r.forecasters) {
            t << "  " << f.names.key << ":";
            for (const ForecasterFact& fact : f.facts) t << " " << fact.key << " " << fact.value << ";";
            t << "\n";
        }
    }
    if (!r.notes.empty()) t << "\nNotes:\n" << r.notes;
    t << "\nStage times:";
    for (const auto& [name, seconds] : r.stage_seconds) t << " " << name << " " << format("%.0f", seconds) << " s;";
    t << "\n";
    return t.str();
}

void write_nowcast_results(const NowcastResults& r) {
    write_csvs(r);
    write_plots(r);
    write_file_atomically(r.dir / "results.json", results_json(r).dump(2) + "\n");
    write_file_atomically(r.dir / "results_summary.txt", nowcast_summary_text(r));
}

}  // namespace twp
