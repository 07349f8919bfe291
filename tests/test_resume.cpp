// Reliability of training runs: --resume after a crash continues bit for bit (base training killed
// with SIGKILL at random moments; predictor training interrupted after an epoch), no file of a
// snapshot folder is ever partial, a NaN stops training with where it happened and what to try,
// and a second twp on the same snapshot folder is refused. On a subset of the MNIST files
// (tools/fetch-data.sh), written as IDX files in a temporary folder so that the twp binary itself
// can be killed and resumed quickly.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/cpu_backend.hpp"
#include "engine/random.hpp"
#include "engine/safetensors.hpp"
#include "experiment/base_training.hpp"
#include "experiment/config.hpp"
#include "experiment/mnist.hpp"
#include "experiment/predictor_checkpoint.hpp"
#include "experiment/predictor_training.hpp"
#include "experiment/snapshots.hpp"

extern char** environ;

using namespace twp;
namespace fs = std::filesystem;

namespace {

// One thread, as the twp runs below: these trainings are short, and on a busy two-core machine
// OpenMP's waiting threads make them many times slower. (It sets the process's OpenMP thread
// count; ctest runs every test case in a process of its own.)
CpuBackend& backend() {
    static CpuBackend instance(1);
    return instance;
}

fs::path fresh_temp_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("twp_resume_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first `count` items of an IDX file of data/mnist (raw or .gz: gzread reads both), written
// raw to `to`. header: 16 bytes for images, 8 for labels; item: bytes per item.
void write_idx_prefix(const std::string& name, int64_t count, int header, int64_t item, const fs::path& to) {
    const std::string dir = std::string(TWP_SOURCE_DIR) + "/data/mnist/";
    const std::string path = fs::exists(dir + name) ? dir + name : dir + name + ".gz";
    gzFile in = gzopen(path.c_str(), "rb");
    REQUIRE(in != nullptr);
    std::string bytes(size_t(header + count * item), '\0');
    const int got = gzread(in, bytes.data(), unsigned(bytes.size()));
    gzclose(in);
    REQUIRE(got == int(bytes.size()));
    for (int i = 0; i < 4; ++i) bytes[4 + i] = char(uint32_t(count) >> (24 - 8 * i));  // big-endian count
    std::ofstream(to / name, std::ios::binary) << bytes;
}

// A quick MNIST: the first `train` training and `test` test images, as IDX files in `dir`.
fs::path mnist_subset(const fs::path& dir, int64_t train, int64_t test) {
    fs::create_directories(dir);
    write_idx_prefix("train-images-idx3-ubyte", train, 16, 28 * 28, dir);
    write_idx_prefix("train-labels-idx1-ubyte", train, 8, 1, dir);
    write_idx_prefix("t10k-images-idx3-ubyte", test, 16, 28 * 28, dir);
    write_idx_prefix("t10k-labels-idx1-ubyte", test, 8, 1, dir);
    return dir;
}

// Runs twp without waiting: stdout and stderr go to `log`; `env` entries ("NAME=value") are added.
pid_t spawn_twp(const std::vector<std::string>& args, const fs::path& log, const std::vector<std::string>& env = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> strings = {TWP_BINARY};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment = env;
    for (char** e = environ; *e; ++e) environment.push_back(*e);
    for (std::string& s : environment) envp.push_back(s.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int error = posix_spawn(&pid, TWP_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(error == 0);
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

// twp's exit code (-1 when a signal ended it).
int run_twp(const std::vector<std::string>& args, const fs::path& log, const std::vector<std::string>& env = {}) {
    const int status = wait_status(spawn_twp(args, log, env));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

bool all_finite(const std::vector<float>& values) {
    for (const float v : values)
        if (!std::isfinite(v)) return false;
    return true;
}

// Every file of a snapshot folder is whole and valid: snapshots and checkpoints load with finite
// values, every index lists files that exist. Temporary files (an atomic write killed mid-way,
// never under a final name) are only counted; the number is returned.
int check_snapshot_folder(const fs::path& dir) {
    int temporaries = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string name = entry.path().filename().string();
        const fs::path run_dir = entry.path().parent_path();
        INFO(entry.path().string());
        if (ends_with(name, ".tmp")) {
            ++temporaries;
        } else if (name == ".twp.lock") {
            continue;
        } else if (name == "index.json") {
            RunIndex index(run_dir);
            REQUIRE_NOTHROW(index = RunIndex::load(run_dir));
            for (const SnapshotRecord& r : index.records()) REQUIRE(fs::exists(run_dir / r.file));
        } else if (name == "checkpoint.safetensors") {
            BaseCheckpoint checkpoint;
            REQUIRE_NOTHROW(checkpoint = read_base_checkpoint(run_dir));
            REQUIRE(all_finite(checkpoint.parameters));
            REQUIRE(all_finite(checkpoint.momentum));
        } else {
            REQUIRE(ends_with(name, ".safetensors"));
            std::vector<float> parameters;
            REQUIRE_NOTHROW(parameters = read_snapshot(entry.path()));
            REQUIRE(all_finite(parameters));
        }
    }
    return temporaries;
}

// Relative path -> bytes of every file under dir but the lock file.
std::map<std::string, std::string> folder_contents(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().filename() != ".twp.lock")
            files[fs::relative(entry.path(), dir).string()] = file_bytes(entry.path());
    return files;
}

void require_same_folders(const fs::path& expected, const fs::path& actual) {
    const std::map<std::string, std::string> a = folder_contents(expected), b = folder_contents(actual);
    std::vector<std::string> names_a, names_b;
    for (const auto& [name, bytes] : a) names_a.push_back(name);
    for (const auto& [name, bytes] : b) names_b.push_back(name);
    REQUIRE(names_a == names_b);
    for (const auto& [name, bytes] : a) {
        CAPTURE(name);
        REQUIRE(bytes == b.at(name));
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("an Rng continues exactly from a saved state", "[resume][random]") {
    Rng rng(12345, RngStream::kShuffle);
    for (int drawn = 0; drawn < 11; ++drawn) {
        CAPTURE(drawn);
        Rng original(12345, RngStream::kShuffle);
        for (int i = 0; i < drawn; ++i) original.next_u32();
        const RngState state = original.state();
        Rng restored(12345, RngStream::kShuffle);
        REQUIRE(restored.set_state(state));
        for (int i = 0; i < 9; ++i) REQUIRE(restored.next_u32() == original.next_u32());
        REQUIRE(restored.below(1000) == original.below(1000));
    }
    REQUIRE_FALSE(rng.set_state({0, 2}));  // no block drawn yet, yet words used
    REQUIRE_FALSE(rng.set_state({3, 5}));
    REQUIRE_FALSE(rng.set_state({3, -1}));
}

TEST_CASE("the command line takes --resume and --base_learning_rate", "[resume][cli]") {
    REQUIRE(parse_args({"--mode", "train_base", "--resume"}).resume);
    REQUIRE(parse_args({"--resume"}).resume);  // full
    REQUIRE(parse_args({"--mode", "train_predictor", "--resume"}).resume);
    REQUIRE_THROWS_AS(parse_args({"--mode", "evaluate", "--model_path", "m", "--resume"}), UsageError);
    REQUIRE(parse_args({}).base_learning_rate == 0.005);
    REQUIRE(parse_args({"--base_learning_rate", "0.01"}).base_learning_rate == 0.01);
    REQUIRE_THROWS_AS(parse_args({"--base_learning_rate", "0"}), UsageError);
    REQUIRE_THROWS_AS(parse_args({"--base_learning_rate", "fast"}), UsageError);
    REQUIRE_THAT(usage_text(), Catch::Contains("--resume") && Catch::Contains("--base_learning_rate"));
}

TEST_CASE("base training killed with SIGKILL at random moments resumes bit for bit", "[resume][mnist]") {
    const fs::path dir = fresh_temp_dir("kill");
    const fs::path data = mnist_subset(dir / "data", 6000, 1000);
    const fs::path reference = dir / "reference", interrupted = dir / "interrupted", log = dir / "log.txt";
    // 2 runs x 2 epochs x 188 batches, 4 snapshots per epoch: kills land inside and between
    // epochs and runs. One thread: the run is short and its length steady on a busy machine.
    const std::vector<std::string> args = {"--mode", "train_base", "--num_runs", "2", "--training_epochs", "2",
                                           "--snapshots_per_epoch", "4", "--threads", "1",
                                           "--data_dir", data.string()};
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(run_twp(args + std::vector<std::string>{"--snapshot_dir", reference.string()}, log) == 0);
    const double duration = seconds_since(start);
    REQUIRE(check_snapshot_folder(reference) == 0);

    // Each kill lands at a random moment of what is left: once a random number of snapshots is
    // taken (so that a slower or faster machine moves it little), after a random part of the time
    // between two snapshots.
    const auto snapshots_taken = [&] {
        size_t taken = 0;
        for (int run = 1; run <= 2; ++run)
            if (fs::exists(run_directory(interrupted, run) / "index.json"))
                taken += RunIndex::load(run_directory(interrupted, run)).records().size();
        return taken;
    };
    constexpr size_t kSnapshots = 16;  // 2 runs x 2 epochs x 4
    std::mt19937 random(20240611);     // fixed: the same kill moments every time
    int killed_mid_run = 0;
    for (int attempt = 0; attempt < 4 && snapshots_taken() < kSnapshots; ++attempt) {
        CAPTURE(attempt);
        std::vector<std::string> command = args + std::vector<std::string>{"--snapshot_dir", interrupted.string()};
        if (attempt > 0) command.push_back("--resume");
        // The kill waits for snapshot `target` (1..15: never the last, the end of the training).
        const int taken = int(snapshots_taken());
        const int target = taken >= 15 ? 15 : taken + 1 + int(random() % uint32_t(15 - taken));
        const double delay = duration / double(kSnapshots) * double(random()) / 4294967296.0;
        CAPTURE(taken, target, delay);
        const pid_t pid = spawn_twp(command, log);
        int status = 0;
        bool exited = false;
        while (!exited && int(snapshots_taken()) < target) {
            exited = waitpid(pid, &status, WNOHANG) == pid;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!exited) {
            std::this_thread::sleep_for(std::chrono::duration<double>(delay));
            kill(pid, SIGKILL);
            status = wait_status(pid);
        }
        INFO(file_bytes(log));
        if (WIFSIGNALED(status)) {
            REQUIRE(WTERMSIG(status) == SIGKILL);
            ++killed_mid_run;
        } else {
            REQUIRE(WEXITSTATUS(status) == 0);  // it finished before the kill
        }
        check_snapshot_folder(interrupted);  // whatever moment it died at: no partial file
    }
    REQUIRE(killed_mid_run >= 1);

    // Resuming with other settings is refused and changes nothing.
    const std::map<std::string, std::string> before = folder_contents(interrupted);
    REQUIRE(run_twp(args + std::vector<std::string>{"--snapshot_dir", interrupted.string(), "--resume",
                                                    "--base_learning_rate", "0.01"}, log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("--base_learning_rate") && Catch::Contains("cannot resume run 1"));
    REQUIRE(folder_contents(interrupted) == before);

    // A write killed mid-way leaves a temporary file: a resume removes it.
    std::ofstream(run_directory(interrupted, 1) / "index.json.999999.tmp") << "{\"format\": \"twp-sn";
    REQUIRE(run_twp(args + std::vector<std::string>{"--snapshot_dir", interrupted.string(), "--resume"}, log) == 0);
    INFO(file_bytes(log));
    REQUIRE(check_snapshot_folder(interrupted) == 0);
    require_same_folders(reference, interrupted);

    // Resuming finished runs trains nothing and still reports them.
    REQUIRE(run_twp(args + std::vector<std::string>{"--snapshot_dir", interrupted.string(), "--resume"}, log) == 0);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("run 2 (seed 43): final test accuracy") &&
                                      Catch::Contains("already complete"));
    require_same_folders(reference, interrupted);
    fs::remove_all(dir);
}

TEST_CASE("a resume cuts back snapshots written after the checkpoint", "[resume][mnist]") {
    // A crash between a snapshot's index entry and its checkpoint: the index lists one snapshot
    // more than the checkpoint holds. Made here by putting an older checkpoint back.
    const fs::path dir = fresh_temp_dir("cut");
    const Dataset small = load_dataset(mnist_subset(dir / "data", 2000, 500), "mnist");
    BaseTrainingOptions options;
    options.epochs = 2;
    options.num_runs = 1;
    options.snapshots_per_epoch = 3;
    options.show_progress = false;
    options.snapshot_dir = dir / "reference";
    train_base(backend(), small, options);

    options.snapshot_dir = dir / "cut";
    const fs::path run_dir = run_directory(options.snapshot_dir, 1);
    options.stop_after_snapshot = 2;  // mid-epoch 1
    REQUIRE_THROWS_WITH(train_base(backend(), small, options), Catch::Contains("stopped after snapshot 2"));
    const std::string checkpoint_at_2 = file_bytes(base_checkpoint_path(run_dir));
    options.resume = true;
    options.stop_after_snapshot = 4;  // mid-epoch 2
    REQUIRE_THROWS(train_base(backend(), small, options));
    REQUIRE(RunIndex::load(run_dir).records().size() == 4);
    std::ofstream(base_checkpoint_path(run_dir), std::ios::binary) << checkpoint_at_2;

    options.stop_after_snapshot = 0;
    const std::vector<RunSummary> resumed = train_base(backend(), small, options);
    REQUIRE(resumed[0].resumed_at_step == RunIndex::load(dir / "reference" / "training_runs" / "run_1").records()[1].step);
    require_same_folders(dir / "reference", options.snapshot_dir);

    // A checkpoint the index does not know is refused rather than guessed at.
    std::ofstream(base_checkpoint_path(run_dir), std::ios::binary) << checkpoint_at_2;
    RunIndex index = RunIndex::load(run_dir);
    index.truncate_after(index.records()[0].step);
    REQUIRE_THROWS_WITH(train_base(backend(), small, options), Catch::Contains("is no snapshot of"));
    fs::remove_all(dir);
}

TEST_CASE("a NaN stops base training, saying where and what to try", "[resume][mnist]") {
    const fs::path dir = fresh_temp_dir("nan");
    const fs::path data = mnist_subset(dir / "data", 2000, 500), snapshots = dir / "snapshots", log = dir / "log.txt";
    // Twenty snapshots per epoch: one every 3 steps, so some are taken before it diverges.
    REQUIRE(run_twp({"--mode", "train_base", "--num_runs", "2", "--training_epochs", "1", "--snapshots_per_epoch",
                     "20", "--base_learning_rate", "100", "--threads", "1", "--data_dir", data.string(),
                     "--snapshot_dir", snapshots.string()}, log) == 1);
    const std::string output = file_bytes(log);
    INFO(output);
    REQUIRE_THAT(output, Catch::Contains("run 1, epoch 1, step ") && Catch::Contains("nan") &&
                             Catch::Contains("lower learning rate (--base_learning_rate, now 100)") &&
                             Catch::Contains("its last good snapshot"));
    const std::vector<SnapshotRecord> kept = RunIndex::load(run_directory(snapshots, 1)).records();
    REQUIRE(kept.size() >= 1);
    REQUIRE(check_snapshot_folder(snapshots) == 0);  // every snapshot kept is finite
    REQUIRE_FALSE(fs::exists(run_directory(snapshots, 2)));

    // Looked at per snapshot only, as on a device: the same step is found.
    const size_t at = output.find("run 1, epoch 1, step ") + std::string("run 1, epoch 1, ").size();
    const std::string step_text = output.substr(at, output.find(" (batch", at) - at);  // "step N"
    const Dataset small = load_dataset(data, "mnist");
    BaseTrainingOptions options;
    options.epochs = 1;
    options.num_runs = 1;
    options.snapshots_per_epoch = 20;
    options.sgd.learning_rate = 100;
    options.show_progress = false;
    options.check_each_step_on_host = false;
    options.snapshot_dir = dir / "device_like";
    REQUIRE_THROWS_WITH(train_base(backend(), small, options),
                        Catch::Contains("run 1, epoch 1, " + step_text + " (batch"));
    REQUIRE(check_snapshot_folder(options.snapshot_dir) == 0);
    fs::remove_all(dir);
}

TEST_CASE("a second twp writing to the same snapshot folder is refused", "[resume][cli]") {
    const fs::path dir = fresh_temp_dir("lock");
    const fs::path snapshots = dir / "snapshots", log = dir / "log.txt";
    fs::create_directories(snapshots);
    // This test process plays the first twp: it holds the lock, as a running twp does.
    const int fd = open((snapshots / ".twp.lock").c_str(), O_RDWR | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
    const std::string pid = std::to_string(getpid()) + "\n";
    REQUIRE(write(fd, pid.data(), pid.size()) == ssize_t(pid.size()));

    REQUIRE(run_twp({"--mode", "train_base", "--num_runs", "1", "--training_epochs", "1", "--data_dir",
                     std::string(TWP_SOURCE_DIR) + "/data/mnist", "--snapshot_dir", snapshots.string()}, log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("another twp process (pid " + std::to_string(getpid()) +
                                                  ") is writing to " + snapshots.string() +
                                                  "; wait for it or use another --snapshot_dir"));
    REQUIRE(std::distance(fs::directory_iterator(snapshots), fs::directory_iterator()) == 1);  // the lock only
    REQUIRE(file_bytes(snapshots / ".twp.lock") == pid);
    close(fd);
    fs::remove_all(dir);
}

// Both transformer recipes: the transformer (its schedule, patience and selection state in the
// checkpoint) is interrupted; seed, after it in the list, has no checkpoint yet and starts anew.
TEST_CASE("predictor training interrupted and resumed gives the same files bit for bit", "[resume][mnist]") {
    const fs::path dir = fresh_temp_dir("predictor");
    const Dataset small = load_dataset(mnist_subset(dir / "data", 2000, 500), "mnist");
    BaseTrainingOptions base;
    base.epochs = 2;
    base.num_runs = 2;
    base.snapshots_per_epoch = 8;  // 9 snapshots an epoch: 12 train and 12 test windows of 3
    base.show_progress = false;
    base.snapshot_dir = dir / "snapshots";
    train_base(backend(), small, base);

    const std::vector<std::string> args = {
        "--mode", "train_predictor", "--apply_pca", "--n_components", "4", "--predictor_epochs", "6",
        "--batch_size", "4", "--num_layers", "1", "--dim_feedforward", "16", "--threads", "1",
        "--forecasters", "transformer,seed,last_value", "--snapshot_dir", base.snapshot_dir.string()};
    const fs::path reference = dir / "reference", interrupted = dir / "interrupted", log = dir / "log.txt";
    REQUIRE(run_twp(args + std::vector<std::string>{"--results_dir", reference.string()}, log) == 0);
    const std::vector<std::string> resumed_args = args + std::vector<std::string>{"--results_dir", interrupted.string()};
    REQUIRE(run_twp(resumed_args, log, {"TWP_TEST_STOP_AFTER_PREDICTOR_EPOCH=3"}) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("stopped after epoch 3"));
    const fs::path experiment = fs::directory_iterator(interrupted)->path();
    const fs::path checkpoint = predictor_checkpoint_path(experiment, "transformer");
    const PredictorCheckpoint stopped = load_predictor_checkpoint(checkpoint);
    REQUIRE(stopped.epoch == 3);
    REQUIRE(stopped.history.selection == SelectionSet::kValidation);
    REQUIRE(std::isfinite(stopped.history.initial_selection_loss));
    REQUIRE_FALSE(stopped.finished);
    REQUIRE_FALSE(fs::exists(experiment / "models" / "transformer_best.safetensors"));
    REQUIRE_FALSE(fs::exists(predictor_checkpoint_path(experiment, "seed")));

    // Other settings: refused, nothing changed.
    const std::string saved = file_bytes(checkpoint);
    REQUIRE(run_twp(resumed_args + std::vector<std::string>{"--resume", "--dropout", "0.2"}, log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("cannot resume the predictor training of " + experiment.string()) &&
                                      Catch::Contains("--dropout"));
    REQUIRE(file_bytes(checkpoint) == saved);

    const int resumed = run_twp(resumed_args + std::vector<std::string>{"--resume"}, log);
    INFO(file_bytes(log));
    REQUIRE(resumed == 0);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("continuing the predictor training of " + experiment.string()));
    REQUIRE(std::distance(fs::directory_iterator(interrupted), fs::directory_iterator()) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("seed_checkpoint.safetensors has no checkpoint yet"));
    REQUIRE(predictor_checkpoints(experiment).empty());  // the experiment is complete
    const fs::path expected = fs::directory_iterator(reference)->path();
    for (const char* file : {"transformer_best.safetensors", "transformer_last.safetensors", "seed_best.safetensors",
                             "seed_last.safetensors", "pca.safetensors"}) {
        CAPTURE(file);
        REQUIRE(file_bytes(experiment / "models" / file) == file_bytes(expected / "models" / file));
    }
    const nlohmann::json a = nlohmann::json::parse(file_bytes(expected / "results.json"));
    const nlohmann::json b = nlohmann::json::parse(file_bytes(experiment / "results.json"));
    for (const char* key : {"transformer", "seed"}) {
        CAPTURE(key);
        const nlohmann::json& ta = a["predictors"][key]["training"];
        const nlohmann::json& tb = b["predictors"][key]["training"];
        REQUIRE(ta["selection"] == "validation");
        REQUIRE(ta["train_loss"] == tb["train_loss"]);
        REQUIRE(ta["validation_loss"] == tb["validation_loss"]);
        REQUIRE(ta["steps"] == tb["steps"]);
        REQUIRE(ta["stopped_early"] == tb["stopped_early"]);
        REQUIRE(ta["best_epoch"] == tb["best_epoch"]);
    }
    REQUIRE(a["predictors"]["transformer"]["training"]["train_loss"].size() > 3);

    // Nothing unfinished left: a new --resume starts a new experiment.
    REQUIRE(run_twp(resumed_args + std::vector<std::string>{"--resume", "--predictor_epochs", "1"}, log) == 0);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("no unfinished predictor training"));
    REQUIRE(std::distance(fs::directory_iterator(interrupted), fs::directory_iterator()) == 2);
    fs::remove_all(dir);
}

TEST_CASE("a NaN or Inf stops predictor training, saying where and what to try", "[resume]") {
    // Snapshots of 8 weights around 1e20: the squared error overflows a float at the first step.
    WeightRuns runs;
    runs.dim = 8;
    for (int r = 1; r <= 2; ++r) {
        RunSnapshots run;
        run.run = r;
        run.dataset = "mnist";
        run.count = 10;
        run.split = run.train_end = run.test_begin = 5;
        for (int i = 0; i < run.count * runs.dim; ++i) run.vectors.push_back(1e20f * float(1 + i % 7));
        run.test_accuracy.assign(run.count, 10.0);
        run.test_loss.assign(run.count, 2.3);
        for (int i = 0; i < run.count; ++i) run.epoch_position.push_back(i);
        runs.runs.push_back(run);
    }
    std::string note;
    DataOptions data_options;
    data_options.sequence_length = 3;
    const PredictorData data = prepare_predictor_data(backend(), runs, data_options, note);
    PredictorOptions options;
    options.epochs = 3;
    options.show_progress = false;
    options.model.heads = 2;
    options.model.layers = 1;
    options.model.feedforward = 16;
    REQUIRE_THROWS_WITH(train_predictor(backend(), data, options),
                        Catch::Contains("predictor training, epoch 1, step 1 (batch 1 of 1): the training MSE became inf") &&
                            Catch::Contains("try a lower --learning_rate (now 0.0001) or --standardize"));
}
