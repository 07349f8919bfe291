// Nowcasting (experiment/nowcast*.hpp): a jump puts exactly the forecast into the parameters (and
// the momentum policy into the buffer), the control is bit for bit base training, an interrupted
// nowcast run resumes bit for bit, steps to target are counted right on hand-made series, the
// mode runs end to end (a last-value nowcaster is the control exactly), and bad input is refused
// before anything is written. On synthetic MNIST-shaped data (tests/synthetic_mnist.hpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "engine/cpu_backend.hpp"
#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/nowcast.hpp"
#include "experiment/nowcast_hook.hpp"
#include "experiment/nowcast_measures.hpp"
#include "experiment/pipeline.hpp"
#include "experiment/snapshots.hpp"
#include "tests/synthetic_mnist.hpp"

using namespace twp;
namespace fs = std::filesystem;

namespace {

CpuBackend& backend() {
    static CpuBackend instance(1);
    return instance;
}

// 330 images: 11 batches of 32 (the last of 10); 5 snapshots an epoch at steps 3, 5, 7, 9, 11.
const Dataset& dataset() {
    static const Dataset d = [] {
        Dataset set;
        set.name = "mnist";
        set.train = test::synthetic_mnist(330, 21);
        set.test = test::synthetic_mnist(100, 22);
        return set;
    }();
    return d;
}

fs::path fresh_temp_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("twp_nowcast_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

BaseTrainingOptions options_for(const fs::path& dir, SnapshotHook* hook) {
    BaseTrainingOptions o;
    o.epochs = 2;
    o.snapshots_per_epoch = 5;
    o.num_runs = 1;
    o.random_seed = 7;
    o.snapshot_dir = dir;
    o.show_progress = false;
    o.test_batch_size = 64;
    o.hook = hook;
    return o;
}

std::vector<float> snapshot(const fs::path& snapshot_dir, int index) {
    const RunIndex run = RunIndex::load(run_directory(snapshot_dir, 1));
    return read_snapshot(run.directory() / run.records().at(index).file);
}

// A hand-made forecast: the last weights moved on by half their last change; it records what it
// was given and what it gave.
struct RecordingForecast {
    struct Call {
        std::vector<float> weights, result;
        int64_t length;
    };
    std::vector<Call> calls;
    JumpForecast function() {
        return [this](const std::vector<float>& weights, int64_t length) {
            const int64_t n = LeNet5::kParameterCount;
            std::vector<float> next(weights.end() - n, weights.end());
            if (length > 1)
                for (int64_t i = 0; i < n; ++i) next[i] += 0.5f * (next[i] - weights[(length - 2) * n + i]);
            calls.push_back({weights, next, length});
            return next;
        };
    }
};

JumpPolicy policy_with(JumpForecast forecast, MomentumAtJump momentum) {
    JumpPolicy p;
    p.forecast = std::move(forecast);
    p.every = 1;
    p.history = 2;
    p.horizon = 1;
    p.momentum = momentum;
    p.learning_rate = BaseTrainingOptions{}.sgd.learning_rate;
    return p;
}

Config nowcast_config(const fs::path& dir) {
    Config c;
    c.mode = "nowcast";
    c.training_epochs = 2;
    c.snapshots_per_epoch = 5;
    c.num_runs = 2;
    c.sequence_length = 2;
    c.repeats = 2;
    c.forecasters = {"last_value", "linear", "ar"};  // ar forecasts PCA scores: jumps through the PCA
    c.apply_pca = true;
    c.n_components = 4;
    c.targets = {11.0, 13.0};
    c.snapshot_dir = (dir / "snapshots").string();
    c.results_dir = (dir / "results").string();
    return c;
}

}  // namespace

TEST_CASE("the control's hook leaves base training bit for bit as it is", "[nowcast]") {
    const fs::path dir = fresh_temp_dir("control");
    train_base(backend(), dataset(), options_for(dir / "plain", nullptr));
    NowcastHook control(backend(), JumpPolicy{});
    train_base(backend(), dataset(), options_for(dir / "control", &control));
    const RunIndex plain = RunIndex::load(run_directory(dir / "plain", 1));
    const RunIndex hooked = RunIndex::load(run_directory(dir / "control", 1));
    REQUIRE(plain.records().size() == 10);
    REQUIRE(hooked.records().size() == 10);
    for (size_t i = 0; i < plain.records().size(); ++i)
        REQUIRE(file_bytes(plain.directory() / plain.records()[i].file) ==
                file_bytes(hooked.directory() / hooked.records()[i].file));
    const NowcastLog log = read_nowcast_log(hooked.directory());
    REQUIRE(log.jumps.empty());
    REQUIRE(log.snapshots.size() == 10);
    for (size_t i = 0; i < log.snapshots.size(); ++i) {
        CHECK(log.snapshots[i].step == hooked.records()[i].step);
        CHECK(log.snapshots[i].seconds >= (i ? log.snapshots[i - 1].seconds : 0.0));
    }
    fs::remove_all(dir);
}

TEST_CASE("a jump puts exactly the forecast into the parameters, and the momentum as asked", "[nowcast]") {
    const MomentumAtJump momentum = GENERATE(MomentumAtJump::kKeep, MomentumAtJump::kReset, MomentumAtJump::kRescale);
    CAPTURE(momentum_at_jump_name(momentum));
    const fs::path dir = fresh_temp_dir(std::string("jump_") + momentum_at_jump_name(momentum));
    // Both stop at their second snapshot (step 5), the first at which two snapshots were taken:
    // its checkpoint holds the state right after the jump.
    NowcastHook control(backend(), JumpPolicy{});
    BaseTrainingOptions control_options = options_for(dir / "control", &control);
    control_options.stop_after_snapshot = 2;
    REQUIRE_THROWS_AS(train_base(backend(), dataset(), control_options), Error);
    RecordingForecast forecast;
    NowcastHook jumper(backend(), policy_with(forecast.function(), momentum));
    BaseTrainingOptions jump_options = options_for(dir / "jump", &jumper);
    jump_options.stop_after_snapshot = 2;
    REQUIRE_THROWS_AS(train_base(backend(), dataset(), jump_options), Error);

    REQUIRE(forecast.calls.size() == 1);
    const RecordingForecast::Call& call = forecast.calls.front();
    REQUIRE(call.length == 2);
    // Its history: this run's snapshot at step 3 and its state at step 5 before the jump, which
    // is the control's (nothing differed before).
    const int64_t n = LeNet5::kParameterCount;
    const std::vector<float> first = snapshot(dir / "control", 0), second = snapshot(dir / "control", 1);
    REQUIRE(std::equal(first.begin(), first.end(), call.weights.begin()));
    REQUIRE(std::equal(second.begin(), second.end(), call.weights.begin() + n));
    // The snapshot at the jump and the checkpoint after it hold the forecast bit for bit.
    REQUIRE(snapshot(dir / "jump", 1) == call.result);
    const BaseCheckpoint jumped = read_base_checkpoint(run_directory(dir / "jump", 1));
    const BaseCheckpoint plain = read_base_checkpoint(run_directory(dir / "control", 1));
    REQUIRE(jumped.step == 5);
    REQUIRE(jumped.parameters == call.result);
    if (momentum == MomentumAtJump::kKeep) {
        REQUIRE(jumped.momentum == plain.momentum);
    } else if (momentum == MomentumAtJump::kReset) {
        REQUIRE(std::all_of(jumped.momentum.begin(), jumped.momentum.end(), [](float v) { return v == 0.0f; }));
    } else {
        // v = -(forecast - now) / (lr x 2 steps x horizon 1): SGD's step -lr v covers the jump in 2 steps.
        const double lr = BaseTrainingOptions{}.sgd.learning_rate;
        double largest = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double expected = -(double(call.result[i]) - second[i]) / (lr * 2.0);
            REQUIRE(jumped.momentum[i] == Approx(expected).margin(1e-6));
            largest = std::max(largest, std::abs(expected));
        }
        REQUIRE(largest > 0);
    }
    const NowcastLog log = read_nowcast_log(run_directory(dir / "jump", 1));
    REQUIRE(log.jumps.size() == 1);
    CHECK(log.jumps[0].step == 5);
    CHECK(std::isfinite(log.jumps[0].loss_before));
    fs::remove_all(dir);
}

TEST_CASE("a nowcast run interrupted after its jumps resumes bit for bit", "[nowcast][resume]") {
    const fs::path dir = fresh_temp_dir("resume");
    RecordingForecast whole_forecast;
    NowcastHook whole(backend(), policy_with(whole_forecast.function(), MomentumAtJump::kKeep));
    train_base(backend(), dataset(), options_for(dir / "whole", &whole));
    // Jumps at every snapshot from the second on (after a jump, the jumped weights and one more
    // snapshot make the next history).
    REQUIRE(whole_forecast.calls.size() == 9);

    RecordingForecast part_forecast;
    NowcastHook part(backend(), policy_with(part_forecast.function(), MomentumAtJump::kKeep));
    BaseTrainingOptions interrupted = options_for(dir / "part", &part);
    interrupted.stop_after_snapshot = 6;  // in the second epoch, after 5 jumps
    REQUIRE_THROWS_AS(train_base(backend(), dataset(), interrupted), Error);
    BaseTrainingOptions resumed = options_for(dir / "part", &part);
    resumed.resume = true;
    train_base(backend(), dataset(), resumed);
    REQUIRE(part_forecast.calls.size() == 9);
    const RunIndex a = RunIndex::load(run_directory(dir / "whole", 1));
    const RunIndex b = RunIndex::load(run_directory(dir / "part", 1));
    REQUIRE(a.records().size() == b.records().size());
    for (size_t i = 0; i < a.records().size(); ++i)
        REQUIRE(file_bytes(a.directory() / a.records()[i].file) == file_bytes(b.directory() / b.records()[i].file));
    const NowcastLog la = read_nowcast_log(a.directory()), lb = read_nowcast_log(b.directory());
    REQUIRE(la.jumps.size() == lb.jumps.size());
    REQUIRE(lb.snapshots.size() == 10);
    for (size_t i = 0; i < la.jumps.size(); ++i) {
        CHECK(la.jumps[i].step == lb.jumps[i].step);
        CHECK(la.jumps[i].loss_before == lb.jumps[i].loss_before);
    }
    fs::remove_all(dir);
}

TEST_CASE("steps to a target are counted on the first snapshot that reaches it", "[nowcast]") {
    CHECK(first_reaching({97.0, 98.2, 97.9, 99.0}, 98.0) == 1);
    CHECK(first_reaching({97.0, 98.2, 97.9, 99.0}, 99.0) == 3);
    CHECK(first_reaching({97.0, 98.2}, 99.0) == -1);
    CHECK(first_reaching({99.0}, 99.0) == 0);

    auto run = [](const std::string& key, uint64_t seed, std::vector<double> accuracy) {
        NowcastRun r;
        r.key = key;
        r.seed = seed;
        for (size_t i = 0; i < accuracy.size(); ++i) {
            r.steps.push_back(int64_t(100 * (i + 1)));
            r.seconds.push_back(2.0 * double(i + 1));
            r.loss.push_back(1.0);
        }
        r.accuracy = std::move(accuracy);
        return r;
    };
    std::vector<NowcastRun> runs = {
        run("control", 1, {97.0, 98.0, 98.6, 99.0}),  // 98.5 at step 300, 99.0 at 400
        run("control", 2, {97.5, 98.5, 98.9, 99.1}),  // 98.5 at step 200, 99.0 at 400
        run("jumper", 1, {97.0, 98.7, 99.2, 99.3}),   // 98.5 at 200 (saves 1/3), 99.0 at 300 (saves 1/4)
        run("jumper", 2, {98.6, 98.7, 98.8, 98.9}),   // 98.5 at 100 (saves 1/2), 99.0 never
    };
    // A jump that made the test loss worse and one that did not.
    runs[2].jumps = {JumpRecord{200, 0.5, 98.0, 0.1}, JumpRecord{300, 2.0, 98.0, 0.1}};
    runs[2].loss_after = {0.7, 1.0};
    runs[2].accuracy_after = {98.7, 99.2};
    const std::vector<NowcastMeasure> m = measure_nowcasts(runs, {"control", "jumper"}, {1, 2}, {98.5, 99.0});
    REQUIRE(m.size() == 2);
    const NowcastMeasure& control = m[0];
    const NowcastMeasure& jumper = m[1];
    CHECK(control.targets[0].steps == std::vector<double>{300, 200});
    CHECK(control.targets[0].step_saving == std::vector<double>{0, 0});
    CHECK(jumper.targets[0].steps == std::vector<double>{200, 100});
    CHECK(jumper.targets[0].step_saving[0] == Approx(1.0 / 3.0));
    CHECK(jumper.targets[0].step_saving[1] == Approx(0.5));
    CHECK(jumper.targets[0].step_saving_interval.mean == Approx((1.0 / 3.0 + 0.5) / 2));
    CHECK(jumper.targets[0].step_saving_interval.count == 2);
    CHECK(jumper.targets[0].reached == 2);
    CHECK(jumper.targets[0].time_saving[0] == Approx(1.0 - 4.0 / 6.0));
    CHECK(jumper.targets[1].reached == 1);
    CHECK(jumper.targets[1].steps[0] == 300);
    CHECK(std::isnan(jumper.targets[1].steps[1]));
    CHECK(jumper.targets[1].step_saving[0] == Approx(0.25));
    CHECK(std::isnan(jumper.targets[1].step_saving[1]));
    CHECK(jumper.targets[1].step_saving_interval.count == 1);
    CHECK(jumper.final_accuracy == std::vector<double>{99.3, 98.9});
    CHECK(jumper.final_gain[0] == Approx(0.3));
    CHECK(jumper.final_gain[1] == Approx(-0.2));
    CHECK(jumper.jumps == 2);
    CHECK(jumper.worse_jumps == 1);
}

TEST_CASE("the nowcast mode runs end to end, and a last-value nowcaster is the control exactly", "[nowcast]") {
    const fs::path dir = fresh_temp_dir("mode");
    Config c = nowcast_config(dir);
    const Plan plan = make_plan(c);
    REQUIRE(plan.nowcasts);
    const fs::path results = run_nowcast(backend(), c, dataset(), "test");
    REQUIRE(fs::exists(results / "results.json"));
    REQUIRE(fs::exists(results / "results_summary.txt"));
    REQUIRE(fs::exists(results / "plots" / "nowcast_accuracy.png"));
    REQUIRE(fs::exists(results / "plots" / "nowcast_accuracy_top.png"));
    std::ifstream in(results / "results.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    REQUIRE(j["mode"] == "nowcast");
    REQUIRE(j["plan"]["fit_runs"] == 2);
    REQUIRE(j["plan"]["seeds"] == std::vector<uint64_t>{142, 143});
    REQUIRE(j["plan"]["nowcast_every"] == 2);  // the shortest snapshot interval (3 is the first)
    REQUIRE(j["measures"].size() == 4);
    REQUIRE(j["runs"].size() == 8);
    // Jumping to the last value changes nothing: its runs are the control's, bit for bit.
    for (uint64_t seed : {142, 143}) {
        const fs::path control = run_directory(results / "runs" / "control" / ("seed_" + std::to_string(seed)), 1);
        const fs::path last = run_directory(results / "runs" / "last_value" / ("seed_" + std::to_string(seed)), 1);
        const RunIndex a = RunIndex::load(control), b = RunIndex::load(last);
        REQUIRE(a.records().size() == 10);
        for (size_t i = 0; i < a.records().size(); ++i)
            REQUIRE(file_bytes(a.directory() / a.records()[i].file) == file_bytes(b.directory() / b.records()[i].file));
        CHECK(read_nowcast_log(last).jumps.size() == 9);
    }
    // ar's jumps went through the PCA of the fitted runs: they moved the weights.
    const RunIndex control = RunIndex::load(run_directory(results / "runs" / "control" / "seed_142", 1));
    const RunIndex ar = RunIndex::load(run_directory(results / "runs" / "ar" / "seed_142", 1));
    CHECK(read_nowcast_log(ar.directory()).jumps.size() == 9);
    CHECK(read_snapshot(ar.directory() / ar.records()[1].file) !=
          read_snapshot(control.directory() / control.records()[1].file));
    for (const auto& m : j["measures"]) {
        if (m["forecaster"] != "last_value") continue;
        CHECK(m["jumps"] == 18);
        CHECK(m["jumps_worse"] == 0);
        for (const auto& g : m["final_gain"]) CHECK(g == 0.0);
    }
    // One CSV row per snapshot of each run.
    std::ifstream csv(results / "nowcast_accuracy.csv");
    const std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
    CHECK(std::count(text.begin(), text.end(), '\n') == 1 + 8 * 10);
    std::ifstream summary(results / "results_summary.txt");
    const std::string s((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    CHECK_THAT(s, Catch::Contains("plain SGD (control)") && Catch::Contains("Verdicts"));

    // A second command with --resume finds nothing unfinished and starts anew; one over an
    // unfinished folder (results.json gone) keeps every finished run and writes the same results.
    fs::remove(results / "results.json");
    const std::string before = file_bytes(results / "nowcast_targets.csv");
    c.resume = true;
    REQUIRE(run_nowcast(backend(), c, dataset(), "test") == results);
    CHECK(file_bytes(results / "nowcast_targets.csv").size() == before.size());
    // Another horizon is another experiment: refused on resume.
    fs::remove(results / "results.json");
    c.nowcast_horizon = 2;
    REQUIRE_THROWS_WITH(run_nowcast(backend(), c, dataset(), "test"), Catch::Contains("nowcast_horizon"));
    fs::remove_all(dir);
}

TEST_CASE("nowcasting refuses bad input before writing anything", "[nowcast][cli]") {
    auto args = [](std::vector<std::string> extra) {
        std::vector<std::string> a = {"--mode", "nowcast"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    CHECK_THROWS_AS(parse_args(args({"--nowcast_horizon", "0"})), UsageError);
    CHECK_THROWS_AS(parse_args(args({"--nowcast_every", "0"})), UsageError);
    CHECK_THROWS_AS(parse_args(args({"--targets", "100"})), UsageError);
    CHECK_THROWS_AS(parse_args(args({"--targets", "0"})), UsageError);
    CHECK_THROWS_AS(parse_args(args({"--targets", "98,x"})), UsageError);
    CHECK_THROWS_AS(parse_args(args({"--nowcast_momentum", "flip"})), UsageError);
    const Config good = parse_args(args({"--targets", "97.5,99", "--forecaster", "linear", "--nowcast_every", "500",
                                         "--nowcast_momentum", "reset", "--resume"}));
    CHECK(good.targets == std::vector<double>{97.5, 99});
    CHECK(good.forecasters == std::vector<std::string>{"linear"});
    CHECK(good.nowcast_every == 500);
    CHECK(good.nowcast_momentum == "reset");
    CHECK_THROWS_WITH(make_plan(parse_args(args({"--forecasters", "nope"}))), Catch::Contains("nope"));
    CHECK_THROWS_AS(make_plan(parse_args(args({"--forecasters", "transformer"}))), UsageError);
    CHECK_THROWS_AS(make_plan(parse_args(args({"--split", "runs"}))), UsageError);

    // Too few runs to fit on, and none to train: refused, nothing written.
    const fs::path dir = fresh_temp_dir("refused");
    Config c = nowcast_config(dir);
    c.num_runs = 1;
    REQUIRE_THROWS_AS(run_nowcast(backend(), c, dataset(), "test"), UsageError);
    CHECK_FALSE(fs::exists(dir / "results"));
    CHECK_FALSE(fs::exists(dir / "snapshots"));
    fs::remove_all(dir);
}
