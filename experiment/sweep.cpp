// Sweeps: the grid, its checks, the sweep folder and sweep.json, and the scheduler that runs the
// base trainings and the cells as child processes; see sweep.hpp.
#include "experiment/sweep.hpp"

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/child_process.hpp"
#include "experiment/pipeline.hpp"
#include "experiment/snapshots.hpp"
#include "experiment/sweep_table.hpp"

namespace twp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Flags the sweep sets for its children itself, or that make no sense per cell.
const std::set<std::string> kReservedAxes = {"sweep", "jobs", "resume", "results_dir", "snapshot_dir",
                                             "mode", "train_base", "help", "h"};

// Other spellings of a flag (config.cpp's aliases): an axis on either is one axis.
const std::map<std::string, std::string> kAliases = {{"base_epochs", "training_epochs"},
                                                     {"saves_per_epoch", "snapshots_per_epoch"},
                                                     {"snapshot_frequency", "snapshots_per_epoch"}};

std::string canonical_flag(const std::string& flag) {
    const auto it = kAliases.find(flag);
    return it == kAliases.end() ? flag : it->second;
}

// Every spelling of a canonical flag, with its "--".
std::vector<std::string> spellings(const std::string& flag) {
    std::vector<std::string> all = {"--" + flag};
    for (const auto& [alias, target] : kAliases)
        if (target == flag) all.push_back("--" + alias);
    return all;
}

enum class FlagKind { kSwitch, kValued, kUnknown };

// What parse_args makes of the flag alone: a switch parses, a flag that takes a value is refused
// as needing one, anything else is no flag of twp. Asking the parser keeps every flag it will
// ever have sweepable without a second list of them here.
FlagKind flag_kind(const std::string& flag) {
    try {
        parse_args({"--" + flag});
        return FlagKind::kSwitch;
    } catch (const UsageError& e) {
        return std::string(e.what()).find("needs a value") != std::string::npos ? FlagKind::kValued
                                                                                 : FlagKind::kUnknown;
    }
}

// `args` without every occurrence of the flags in `valued` ("--f v" and "--f=v") and `switches`
// ("--f"); "--sweep" takes the axis items after it along.
std::vector<std::string> without_flags(const std::vector<std::string>& args, const std::set<std::string>& valued,
                                       const std::set<std::string>& switches) {
    std::vector<std::string> kept;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const size_t eq = a.find('=');
        const std::string flag = a.rfind("--", 0) == 0 && eq != std::string::npos ? a.substr(0, eq) : a;
        if (flag == "--sweep" && valued.count("--sweep")) {
            if (eq == std::string::npos)
                while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) ++i;
            continue;
        }
        if (valued.count(flag)) {
            if (eq == std::string::npos) ++i;  // its value
            continue;
        }
        if (switches.count(flag) && eq == std::string::npos) continue;
        kept.push_back(a);
    }
    return kept;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');) items.push_back(item);
    return items;
}

std::string values_text(const SweepPlan& plan, const SweepCell& cell) {
    std::string text;
    for (size_t a = 0; a < plan.axes.size(); ++a)
        text += (a ? " " : "") + plan.axes[a].flag + "=" + cell.values[a];
    return text;
}

std::string real_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

// The base flags of a parsed cell, "training_epochs=2 snapshots_per_epoch=4 ...".
std::string base_key(const Config& c) {
    const std::vector<std::string> values = {std::to_string(c.training_epochs), std::to_string(c.snapshots_per_epoch),
                                             std::to_string(c.num_runs),        std::to_string(c.random_seed),
                                             real_text(c.base_learning_rate),   c.dataset,
                                             c.resolved_data_dir(),             std::to_string(c.repeats)};
    std::string key;
    for (size_t i = 0; i < values.size(); ++i) key += (i ? " " : "") + base_training_flags()[i] + "=" + values[i];
    return key;
}

int usable_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1, int(std::thread::hardware_concurrency()));
}

// ---- the sweep folder and sweep.json ----

struct TaskState {
    std::string status = "pending";  // pending|running|done|failed
    int exit_code = -1;
    double seconds = 0;
    std::string experiment;  // cells: the experiment folder, relative to the sweep folder
    std::string log_tail;    // when it failed
};

Json axes_json(const SweepPlan& plan) {
    Json axes = Json::array();
    for (const SweepAxis& a : plan.axes) axes.push_back({{"flag", a.flag}, {"values", a.values}});
    return axes;
}

std::vector<std::string> base_child_args(const SweepPlan& plan, const SweepBase& base, const fs::path& sweep_dir) {
    std::vector<std::string> args = base.args;
    for (const std::string& a : {std::string("--mode"), std::string("train_base"), std::string("--resume"),
                                 std::string("--snapshot_dir"), (sweep_dir / base.folder()).string()})
        args.push_back(a);
    if (plan.threads > 0) args.insert(args.end(), {"--threads", std::to_string(plan.threads)});
    return args;
}

Json state_json(const TaskState& s) {
    Json j = {{"status", s.status}, {"exit_code", s.exit_code}, {"seconds", s.seconds}};
    if (!s.log_tail.empty()) j["log_tail"] = s.log_tail;
    return j;
}

void write_sweep_json(const fs::path& dir, const SweepPlan& plan, const std::string& started,
                      const std::vector<TaskState>& bases, const std::vector<TaskState>& cells) {
    Json j;
    j["started"] = started;
    j["command"] = plan.command;
    j["axes"] = axes_json(plan);
    j["jobs"] = plan.jobs;
    j["threads_per_process"] = plan.threads > 0 ? Json(plan.threads) : Json("as the command gives");
    Json base_list = Json::array();
    for (size_t b = 0; b < plan.bases.size(); ++b) {
        const SweepBase& base = plan.bases[b];
        Json entry = {{"id", base.id}, {"folder", base.folder()}, {"flags", base.key},
                      {"args", base_child_args(plan, base, dir)}};
        Json cell_numbers = Json::array();
        for (int c : base.cells) cell_numbers.push_back(plan.cells[c].index);
        entry["cells"] = cell_numbers;
        entry.update(state_json(bases[b]));
        base_list.push_back(entry);
    }
    j["bases"] = base_list;
    Json cell_list = Json::array();
    for (size_t c = 0; c < plan.cells.size(); ++c) {
        const SweepCell& cell = plan.cells[c];
        Json values = Json::object();
        for (size_t a = 0; a < plan.axes.size(); ++a) values[plan.axes[a].flag] = cell.values[a];
        Json entry = {{"cell", cell.index}, {"values", values}, {"args", cell_child_args(plan, cell, dir)},
                      {"folder", cell.folder}, {"base", plan.bases[cell.base].id}};
        entry.update(state_json(cells[c]));
        entry["experiment"] = cells[c].experiment;
        cell_list.push_back(entry);
    }
    j["cells"] = cell_list;
    write_file_atomically(dir / "sweep.json", j.dump(2) + "\n");
}

std::string local_time(const char* format) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[64];
    std::strftime(text, sizeof text, format, &local);
    return text;
}

// results_dir/sweep_<timestamp>[_N], claimed atomically by mkdir as experiment folders are.
fs::path create_sweep_dir(const fs::path& results_dir) {
    const std::string stamp = local_time("sweep_%Y%m%d_%H%M%S");
    create_directories_checked(results_dir);
    fs::path dir = results_dir / stamp;
    for (int suffix = 2; ::mkdir(dir.c_str(), 0755) != 0; ++suffix) {
        const int error_number = errno;
        if (error_number != EEXIST)
            TWP_FAIL("cannot create the sweep folder '" << dir.string() << "': " << std::strerror(error_number)
                                                        << "; check that --results_dir " << results_dir.string()
                                                        << " is writable");
        dir = results_dir / (stamp + "_" + std::to_string(suffix));
    }
    return dir;
}

Json read_json(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return Json();
    return Json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// The most recently written sweep.json under results_dir with this command and axes and a cell
// not done; empty when there is none.
fs::path find_resumable_sweep(const SweepPlan& plan) {
    fs::path found;
    fs::file_time_type newest;
    std::error_code error;
    const Json axes = axes_json(plan);
    for (const auto& entry : fs::directory_iterator(plan.results_dir, error)) {
        if (!entry.is_directory(error) || entry.path().filename().string().rfind("sweep_", 0) != 0) continue;
        const Json j = read_json(entry.path() / "sweep.json");
        if (!j.is_object() || j.value("command", Json()) != Json(plan.command) || j.value("axes", Json()) != axes ||
            !j.contains("cells") || j["cells"].size() != plan.cells.size())
            continue;
        bool unfinished = false;
        for (const Json& cell : j["cells"]) unfinished = unfinished || cell.value("status", "") != "done";
        if (!unfinished) continue;
        const auto written = fs::last_write_time(entry.path() / "sweep.json", error);
        if (error) continue;
        if (found.empty() || written > newest || (written == newest && entry.path() > found)) {
            found = entry.path();
            newest = written;
        }
    }
    return found;
}

TaskState state_from_json(const Json& j) {
    TaskState s;
    s.status = j.value("status", "pending");
    s.exit_code = j.value("exit_code", -1);
    s.seconds = j.value("seconds", 0.0);
    s.experiment = j.value("experiment", "");
    s.log_tail = j.value("log_tail", "");
    // A task that was running when the sweep stopped was interrupted: it runs again.
    if (s.status != "done" && s.status != "failed") s.status = "pending";
    return s;
}

// ---- running ----

// The last lines of a log, at most about 2 kB.
std::string log_tail(const fs::path& log) {
    std::ifstream in(log, std::ios::binary);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff from = std::max<std::streamoff>(0, size - 2048);
    in.seekg(from);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (from > 0 && text.find('\n') != std::string::npos) text = text.substr(text.find('\n') + 1);
    size_t start = text.size(), lines = 0;
    while (start > 0 && lines < 13) {
        --start;
        if (text[start] == '\n') ++lines;
    }
    if (lines == 13) ++start;
    return text.substr(start);
}

// The line of a log that says what went wrong: the last "twp: " message (main's error, before its
// pointer to --help), else the last line.
std::string last_line(const std::string& text) {
    std::istringstream lines(text);
    std::string last, message;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        last = line;
        if (line.rfind("twp: ", 0) == 0) message = line;
    }
    return message.empty() ? last : message;
}

// The cell's experiment folder: the experiment_* under its folder whose results.json is newest.
std::string find_cell_experiment(const fs::path& sweep_dir, const SweepCell& cell) {
    fs::path found;
    fs::file_time_type newest;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(sweep_dir / cell.folder, error)) {
        if (entry.path().filename().string().rfind("experiment_", 0) != 0) continue;
        const auto written = fs::last_write_time(entry.path() / "results.json", error);
        if (error) continue;
        if (found.empty() || written > newest) {
            found = entry.path();
            newest = written;
        }
    }
    return found.empty() ? "" : (fs::path(cell.folder) / found.filename()).string();
}

// The cell's --snapshot_dir: hard links to its base's run files (see sweep.hpp for why), made
// afresh each time the cell starts. A file system without hard links gets copies.
void link_base_snapshots(const fs::path& base_dir, const fs::path& cell_snapshots) {
    std::error_code error;
    fs::remove_all(cell_snapshots, error);
    if (error) TWP_FAIL("cannot clear " << cell_snapshots.string() << ": " << error.message());
    const fs::path runs = base_dir / "training_runs";
    for (const auto& entry : fs::recursive_directory_iterator(runs)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || name.front() == '.' || entry.path().extension() == ".tmp") continue;
        const fs::path target = cell_snapshots / "training_runs" / fs::relative(entry.path(), runs);
        create_directories_checked(target.parent_path());
        fs::create_hard_link(entry.path(), target, error);
        if (error) {
            error.clear();
            fs::copy_file(entry.path(), target, error);
            if (error)
                TWP_FAIL("cannot link or copy " << entry.path().string() << " to " << target.string() << ": "
                                                << error.message());
        }
    }
}

struct Task {
    bool is_base = false;
    int index = 0;  // into plan.bases or plan.cells
};

class SweepRunner {
public:
    SweepRunner(const SweepPlan& plan, const fs::path& executable, const fs::path& dir, std::string started,
                std::vector<TaskState> bases, std::vector<TaskState> cells, bool resuming)
        : plan_(plan), executable_(executable), dir_(dir), started_(std::move(started)), bases_(std::move(bases)),
          cells_(std::move(cells)), resuming_(resuming) {}

    // Returns the number of cells not done.
    int run() {
        std::vector<Task> queue;
        for (size_t b = 0; b < plan_.bases.size(); ++b)
            if (bases_[b].status != "done") queue.push_back({true, int(b)});
        for (size_t c = 0; c < plan_.cells.size(); ++c)
            if (cells_[c].status != "done") queue.push_back({false, int(c)});
        for (const Task& t : queue) state(t) = TaskState{};  // failed ones run again
        save();
        std::map<pid_t, std::pair<Task, Clock::time_point>> running;
        while (!queue.empty() || !running.empty()) {
            for (auto it = queue.begin(); it != queue.end() && int(running.size()) < plan_.jobs;) {
                if (!it->is_base) {
                    const TaskState& base = bases_[plan_.cells[it->index].base];
                    if (base.status == "failed") {
                        skip_cell(it->index);
                        it = queue.erase(it);
                        continue;
                    }
                    if (base.status != "done") {
                        ++it;
                        continue;
                    }
                }
                running[start(*it)] = {*it, Clock::now()};
                it = queue.erase(it);
            }
            if (running.empty()) continue;  // every remaining cell's base failed: skipped above
            const ChildExit exit = wait_for_child();
            const auto it = running.find(exit.pid);
            if (it == running.end()) continue;  // not one of ours
            finish(it->second.first, exit, std::chrono::duration<double>(Clock::now() - it->second.second).count());
            running.erase(it);
        }
        int not_done = 0;
        for (const TaskState& s : cells_) not_done += s.status != "done";
        return not_done;
    }

    const std::vector<TaskState>& cells() const { return cells_; }

private:
    TaskState& state(const Task& t) { return t.is_base ? bases_[t.index] : cells_[t.index]; }
    void save() { write_sweep_json(dir_, plan_, started_, bases_, cells_); }

    fs::path log_path(const Task& t) const {
        return dir_ / (t.is_base ? plan_.bases[t.index].folder() : plan_.cells[t.index].folder) / "log.txt";
    }

    pid_t start(const Task& t) {
        std::vector<std::string> args;
        if (t.is_base) {
            const SweepBase& base = plan_.bases[t.index];
            create_directories_checked(dir_ / base.folder());
            args = base_child_args(plan_, base, dir_);
        } else {
            const SweepCell& cell = plan_.cells[t.index];
            create_directories_checked(dir_ / cell.folder);
            link_base_snapshots(dir_ / plan_.bases[cell.base].folder(), dir_ / cell.folder / "snapshots");
            args = cell_child_args(plan_, cell, dir_);
        }
        const fs::path log = log_path(t);
        std::error_code error;
        const bool append = resuming_ && fs::exists(log, error);
        if (append) {
            std::ofstream out(log, std::ios::app);
            out << "\n---- twp --sweep --resume, " << local_time("%Y-%m-%d %H:%M:%S") << " ----\n";
        }
        state(t).status = "running";
        const pid_t pid = start_child(executable_, args, log, append);
        save();
        return pid;
    }

    std::string name(const Task& t) const {
        if (t.is_base) {
            const SweepBase& base = plan_.bases[t.index];
            return "base " + std::to_string(t.index + 1) + "/" + std::to_string(plan_.bases.size()) + " (" + base.id +
                   ", for " + std::to_string(base.cells.size()) + " cell" + (base.cells.size() > 1 ? "s" : "") + ")";
        }
        const SweepCell& cell = plan_.cells[t.index];
        return "cell " + std::to_string(cell.index) + "/" + std::to_string(plan_.cells.size()) + " [" +
               values_text(plan_, cell) + "]";
    }

    void finish(const Task& t, const ChildExit& exit, double seconds) {
        TaskState& s = state(t);
        s.exit_code = exit.code;
        s.seconds = seconds;
        std::string problem = exit.code == 0 ? "" : exit.how;
        if (!t.is_base && exit.code == 0) {
            s.experiment = find_cell_experiment(dir_, plan_.cells[t.index]);
            if (s.experiment.empty()) problem = "exit 0 but no results.json";
        }
        s.status = problem.empty() ? "done" : "failed";
        if (!problem.empty()) s.log_tail = log_tail(log_path(t));
        save();
        if (problem.empty())
            std::printf("%s: done, %.1f s%s\n", name(t).c_str(), seconds,
                        t.is_base ? "" : (" -> " + (dir_ / s.experiment).string()).c_str());
        else
            std::printf("%s: FAILED (%s), %.1f s: %s [log: %s]\n", name(t).c_str(), problem.c_str(), seconds,
                        last_line(s.log_tail).c_str(), log_path(t).string().c_str());
        std::fflush(stdout);
    }

    void skip_cell(int c) {
        const SweepBase& base = plan_.bases[plan_.cells[c].base];
        cells_[c].status = "failed";
        cells_[c].log_tail = "not run: its base training (" + base.folder() + ") failed";
        save();
        std::printf("%s: FAILED: %s\n", name({false, c}).c_str(), cells_[c].log_tail.c_str());
        std::fflush(stdout);
    }

    const SweepPlan& plan_;
    const fs::path executable_, dir_;
    const std::string started_;
    std::vector<TaskState> bases_, cells_;
    const bool resuming_;
};

}  // namespace

const std::vector<std::string>& base_training_flags() {
    static const std::vector<std::string> flags = {"training_epochs",    "snapshots_per_epoch", "num_runs",
                                                   "random_seed",        "base_learning_rate",  "dataset",
                                                   "data_dir",           "repeats"};
    return flags;
}

SweepPlan plan_sweep(const Config& config) {
    TWP_CHECK(!config.sweep.empty(), "plan_sweep needs --sweep axes");
    if (config.mode != "full")
        throw UsageError("a sweep runs full experiments; --mode " + config.mode +
                         " cannot be swept (drop --mode, or run the modes one by one)");
    for (const std::string& a : config.arguments)
        if (a == "--snapshot_dir" || a.rfind("--snapshot_dir=", 0) == 0)
            throw UsageError("a sweep keeps its base trainings' snapshots in its own folder (base/<id>/): drop "
                             "--snapshot_dir");
    SweepPlan plan;
    std::set<std::string> seen;
    std::set<std::string> drop_valued = {"--sweep", "--jobs", "--mode", "--results_dir", "--snapshot_dir"};
    std::set<std::string> drop_switches = {"--resume"};
    size_t cells = 1;
    for (const std::string& item : config.sweep) {
        const size_t eq = item.find('=');
        SweepAxis axis;
        axis.flag = item.substr(0, eq);
        if (axis.flag.rfind("-", 0) == 0)
            throw UsageError("--sweep " + item + ": spell the axis without the leading -- (" +
                             axis.flag.substr(axis.flag.find_first_not_of('-')) + "=...)");
        const std::string flag = canonical_flag(axis.flag);
        if (kReservedAxes.count(flag))
            throw UsageError("--sweep " + item + ": --" + axis.flag + " cannot be an axis (the sweep sets it for "
                             "every cell itself)");
        const FlagKind kind = flag_kind(axis.flag);
        if (kind == FlagKind::kUnknown)
            throw UsageError("--sweep " + item + ": --" + axis.flag + " is no flag of twp (see --help)");
        if (!seen.insert(flag).second)
            throw UsageError("--sweep " + item + ": --" + flag + " is already an axis; give each flag once, with "
                             "all its values (" + flag + "=V1,V2,...)");
        axis.is_switch = kind == FlagKind::kSwitch;
        axis.values = split_list(item.substr(eq + 1));
        std::set<std::string> distinct;
        for (const std::string& v : axis.values) {
            if (!distinct.insert(v).second)
                throw UsageError("--sweep " + item + ": the value " + v + " is given twice");
            if (axis.is_switch && v != "true" && v != "false")
                throw UsageError("--sweep " + item + ": --" + axis.flag + " is a switch: its values are true|false, "
                                 "got '" + v + "'");
        }
        cells *= axis.values.size();
        if (cells > size_t(kMaxSweepCells))
            throw UsageError("the sweep's grid has more than " + std::to_string(kMaxSweepCells) +
                             " cells; sweep fewer values at once");
        for (const std::string& spelling : spellings(flag))
            (axis.is_switch ? drop_switches : drop_valued).insert(spelling);
        plan.axes.push_back(axis);
    }
    const std::vector<std::string> common = without_flags(config.arguments, drop_valued, drop_switches);
    plan.command = without_flags(config.arguments, {"--jobs"}, {"--resume"});
    plan.results_dir = config.results_dir;
    plan.jobs = config.jobs;
    plan.resume = config.resume;

    std::map<std::string, int> base_of_key;
    std::vector<size_t> digit(plan.axes.size(), 0);  // the odometer over the axes' values
    for (size_t n = 0; n < cells; ++n) {
        SweepCell cell;
        cell.index = int(n) + 1;
        char folder[32];
        std::snprintf(folder, sizeof folder, "cells/cell_%03d", cell.index);
        cell.folder = folder;
        cell.args = common;
        for (size_t a = 0; a < plan.axes.size(); ++a) {
            const SweepAxis& axis = plan.axes[a];
            const std::string& value = axis.values[digit[a]];
            cell.values.push_back(value);
            if (!axis.is_switch)
                cell.args.insert(cell.args.end(), {"--" + axis.flag, value});
            else if (value == "true")
                cell.args.push_back("--" + axis.flag);
        }
        try {
            cell.config = parse_args(cell.args);
            if (cell.config.mode != "full") throw UsageError("the cell's mode would be " + cell.config.mode);
            make_plan(cell.config);
        } catch (const UsageError& e) {
            throw UsageError("--sweep: cell " + std::to_string(cell.index) + " (" + values_text(plan, cell) +
                             ") cannot run: " + e.what());
        }
        const std::string key = base_key(cell.config);
        auto [it, added] = base_of_key.emplace(key, int(plan.bases.size()));
        if (added) {
            SweepBase base;
            char id[32];
            std::snprintf(id, sizeof id, "base_%02d", int(plan.bases.size()) + 1);
            base.id = id;
            base.key = key;
            base.args = cell.args;
            plan.bases.push_back(base);
        }
        cell.base = it->second;
        plan.bases[cell.base].cells.push_back(int(plan.cells.size()));
        plan.cells.push_back(cell);
        for (size_t a = plan.axes.size(); a-- > 0;) {  // the last axis varies fastest
            if (++digit[a] < plan.axes[a].values.size()) break;
            digit[a] = 0;
        }
    }
    bool threads_given = false;
    for (const SweepCell& cell : plan.cells) threads_given = threads_given || cell.config.threads != 0;
    plan.threads = threads_given ? 0 : std::max(1, usable_cores() / plan.jobs);
    return plan;
}

std::vector<std::string> cell_child_args(const SweepPlan& plan, const SweepCell& cell, const fs::path& sweep_dir) {
    std::vector<std::string> args = cell.args;
    args.insert(args.end(), {"--mode", "full", "--resume",
                             "--snapshot_dir", (sweep_dir / cell.folder / "snapshots").string(),
                             "--results_dir", (sweep_dir / cell.folder).string()});
    if (plan.threads > 0) args.insert(args.end(), {"--threads", std::to_string(plan.threads)});
    return args;
}

int run_sweep(const SweepPlan& plan, const fs::path& executable) {
    fs::path dir;
    std::string started = local_time("%Y-%m-%d %H:%M:%S");
    std::vector<TaskState> bases(plan.bases.size()), cells(plan.cells.size());
    bool resuming = false;
    if (plan.resume) {
        dir = find_resumable_sweep(plan);
        if (dir.empty())
            std::fprintf(stderr, "twp: --resume: no unfinished sweep with this command under %s: starting a new one\n",
                         plan.results_dir.string().c_str());
    }
    std::optional<FolderLock> lock;
    if (!dir.empty()) {
        lock.emplace(dir, "wait for it: that twp is running this sweep");
        const Json j = read_json(dir / "sweep.json");
        started = j.value("started", started);
        const Json& base_list = j.value("bases", Json::array());
        for (size_t b = 0; b < bases.size() && b < base_list.size(); ++b) bases[b] = state_from_json(base_list[b]);
        for (size_t c = 0; c < cells.size(); ++c) {
            cells[c] = state_from_json(j["cells"][c]);
            // A cell is done when its experiment's results are still there.
            std::error_code error;
            if (cells[c].status == "done" && !fs::exists(dir / cells[c].experiment / "results.json", error))
                cells[c].status = "pending";
        }
        resuming = true;
        int done = 0;
        for (const TaskState& s : cells) done += s.status == "done";
        std::fprintf(stderr, "twp: --resume: continuing the sweep %s (%d of %zu cells done)\n", dir.string().c_str(),
                     done, cells.size());
    } else {
        dir = create_sweep_dir(plan.results_dir);
        lock.emplace(dir, "wait for it: that twp is running this sweep");
    }
    std::fprintf(stderr, "twp: sweep of %zu cells (%zu base training%s) in %s: %d at once, %s\n", plan.cells.size(),
                 plan.bases.size(), plan.bases.size() > 1 ? "s" : "", dir.string().c_str(), plan.jobs,
                 plan.threads > 0 ? ("--threads " + std::to_string(plan.threads) + " each").c_str()
                                  : "--threads as the command gives");
    SweepRunner runner(plan, executable, dir, started, bases, cells, resuming);
    const int not_done = runner.run();

    std::vector<SweepTableRow> rows;
    for (size_t c = 0; c < plan.cells.size(); ++c) {
        const TaskState& s = runner.cells()[c];
        SweepTableRow row;
        row.cell = plan.cells[c].index;
        row.values = plan.cells[c].values;
        row.status = s.status;
        row.seconds = s.seconds;
        row.experiment = s.experiment;
        if (s.status == "done") row.scores = read_cell_scores(dir / s.experiment / "results.json");
        rows.push_back(row);
    }
    std::vector<std::string> flags;
    std::vector<std::vector<std::string>> values;
    for (const SweepAxis& a : plan.axes) {
        flags.push_back(a.flag);
        values.push_back(a.values);
    }
    const std::string summary = write_sweep_table(dir, flags, values, rows);
    std::fputs(summary.c_str(), stdout);
    std::printf("Sweep: %s (%zu of %zu cells done)\n", dir.string().c_str(), plan.cells.size() - size_t(not_done),
                plan.cells.size());
    return not_done == 0 ? 0 : 1;
}

}  // namespace twp
