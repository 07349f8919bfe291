// Storage faults: what twp does when its output cannot be written. Each case writes with
// write_file_atomically, save_safetensors, RunIndex::add or create_experiment_dir (and, at the
// end, the twp binary) into a place that refuses it:
//   - a path whose parent is a regular file (ENOTDIR), a directory that does not exist (ENOENT);
//   - a full filesystem: a 64 KiB tmpfs mounted for the test (ENOSPC); where mount(2) is not
//     permitted (no CAP_SYS_ADMIN, a container), RLIMIT_FSIZE stands in (EFBIG), said in a WARN;
//   - a read-only filesystem: the tmpfs remounted read-only (EROFS; root ignores chmod, a mount
//     flag it cannot); without mount, a chmod 0555 directory when not root, else skipped (WARN).
// Every case requires a twp::Error naming the path with the OS reason and a hint, the previous
// file (if any) unchanged, and no temporary file left behind. Experiments never share a folder.
// Mounts are made under the system temp dir, one per test, and detached when the test ends.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "engine/safetensors.hpp"
#include "experiment/config.hpp"
#include "experiment/lenet5.hpp"
#include "experiment/results.hpp"
#include "experiment/snapshots.hpp"

namespace fs = std::filesystem;
using Catch::Contains;

namespace {

fs::path unique_temp_path(const std::string& tag) {
    return fs::temp_directory_path() / ("twp_storage_" + tag + "_" + std::to_string(::getpid()));
}

// A fresh empty directory, removed with everything in it when the test ends.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag) : path(unique_temp_path(tag)) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        ::chmod(path.c_str(), 0755);
        fs::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// A tmpfs of `size` (mount's syntax, "64k") mounted at a fresh directory, when mount(2) is
// permitted; `why_not` says why not otherwise. Detached and removed when the test ends.
class TinyTmpfs {
public:
    TinyTmpfs(const std::string& tag, const std::string& size)
        : path_(unique_temp_path("tmpfs_" + tag)) {
        ::umount2(path_.c_str(), MNT_DETACH);  // a leftover of a crashed earlier run, if any
        std::error_code ignored;
        fs::remove_all(path_, ignored);
        fs::create_directories(path_);
        const std::string options = "size=" + size + ",mode=0755";
        if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
            mounted_ = true;
        } else {
            why_not_ = std::string("mount -t tmpfs is not permitted here (") + std::strerror(errno) + ")";
        }
    }
    ~TinyTmpfs() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TinyTmpfs(const TinyTmpfs&) = delete;
    TinyTmpfs& operator=(const TinyTmpfs&) = delete;

    bool mounted() const { return mounted_; }
    const std::string& why_not() const { return why_not_; }
    const fs::path& path() const { return path_; }

    // mount -o remount,ro: every later create or write fails with EROFS, even for root.
    bool make_read_only() {
        return mounted_ && ::mount(nullptr, path_.c_str(), nullptr,
                                   MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) == 0;
    }

    // Writes a filler file until the filesystem reports ENOSPC: no free block is left.
    void fill() {
        const std::string filler = (path_ / "filler").string();
        const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        const std::string block(4096, 'f');
        int error_number = 0;
        for (;;) {
            const ssize_t written = ::write(fd, block.data(), block.size());
            if (written < 0) {
                error_number = errno;
                break;
            }
        }
        ::close(fd);
        REQUIRE(error_number == ENOSPC);
    }

private:
    fs::path path_;
    bool mounted_ = false;
    std::string why_not_;
};

// Lowers RLIMIT_FSIZE for this process while alive: a write past `bytes` fails with EFBIG (and
// SIGXFSZ, which would kill the process, is ignored meanwhile). Restored on every exit.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
        saved_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limited = saved_;
        limited.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, saved_handler_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

private:
    rlimit saved_{};
    void (*saved_handler_)(int) = SIG_DFL;
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_plain_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Files whose name ends in ".tmp" anywhere under `dir`: what a failed atomic write must not leave.
std::vector<std::string> temporary_files(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(dir, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
            found.push_back(it->path().string());
    }
    return found;
}

// Runs `write` and returns the message of the twp::Error it must throw ("" and a failure if not).
std::string failure_of(const std::function<void()>& write) {
    try {
        write();
    } catch (const twp::Error& error) {
        return error.what();
    }
    FAIL_CHECK("the write succeeded; it should have failed");
    return "";
}

// A model file of `floats` F32 values: `floats` = 64 Ki makes 256 KiB, more than the tmpfs holds.
twp::SafetensorsFile model_file(size_t floats, float value) {
    const std::vector<float> data(floats, value);
    twp::SafetensorsFile file;
    file.tensors.push_back(twp::make_f32_tensor("w", {int64_t(floats)}, data.data()));
    file.metadata = {{"format", "storage-test"}};
    return file;
}

twp::SnapshotRecord snapshot_record(int epoch) {
    twp::SnapshotRecord record;
    record.file = twp::snapshot_file_name(epoch, 10);
    record.run = 1;
    record.epoch = epoch;
    record.step = 10 * epoch;
    record.batch_in_epoch = 10;
    record.epoch_fraction = 1.0;
    record.test_accuracy = 90.0 + epoch;
    record.test_loss = 0.1;
    record.seed = 42;
    record.dataset = "mnist";
    return record;
}

// Snapshot `i` of a smooth made-up trajectory, so PCA over a few of them is well posed.
std::vector<float> trajectory_point(int i) {
    std::vector<float> parameters(twp::LeNet5::kParameterCount);
    for (size_t k = 0; k < parameters.size(); ++k)
        parameters[k] = 0.01f * float((k * 7919) % 101) + 0.001f * float(i * i) * float(k % 13);
    return parameters;
}

}  // namespace

TEST_CASE("writing under a regular file fails with ENOTDIR, names the path, leaves nothing",
          "[storage]") {
    TempDir dir("enotdir");
    const fs::path plain = dir.path / "results";  // a regular file where a folder is expected
    write_plain_file(plain, "not a directory");

    const fs::path target = plain / "out.bin";
    std::string message = failure_of([&] { twp::write_file_atomically(target, "data"); });
    CHECK_THAT(message, Contains(target.string()) && Contains("Not a directory") &&
                            Contains("no part of the path is a regular file"));

    const fs::path model = plain / "model.safetensors";
    message = failure_of([&] { twp::save_safetensors(model, model_file(16, 1.0f)); });
    CHECK_THAT(message, Contains(model.string()) && Contains("Not a directory"));

    message = failure_of([&] { twp::create_experiment_dir(plain / "sub"); });
    CHECK_THAT(message, Contains((plain / "sub").string()) && Contains("directory"));

    CHECK(read_file(plain) == "not a directory");
    CHECK(temporary_files(dir.path).empty());
}

TEST_CASE("writing into a directory that does not exist fails clearly and creates nothing",
          "[storage]") {
    TempDir dir("enoent");
    const fs::path missing = dir.path / "no_such_dir";

    std::string message =
        failure_of([&] { twp::write_file_atomically(missing / "out.bin", "data"); });
    CHECK_THAT(message, Contains((missing / "out.bin").string()) &&
                            Contains("No such file or directory") &&
                            Contains("check that the directory exists"));
    message = failure_of(
        [&] { twp::save_safetensors(missing / "model.safetensors", model_file(16, 1.0f)); });
    CHECK_THAT(message, Contains((missing / "model.safetensors").string()) &&
                            Contains("No such file or directory"));
    CHECK_FALSE(fs::exists(missing));
    CHECK(fs::is_empty(dir.path));
}

TEST_CASE("a full filesystem: the write fails clearly and the previous file is kept", "[storage]") {
    TinyTmpfs tmpfs("full", "64k");
    TempDir fallback_dir("full_fallback");
    const fs::path dir = tmpfs.mounted() ? tmpfs.path() : fallback_dir.path;
    const fs::path path = dir / "checkpoint.bin";
    const fs::path model = dir / "model.safetensors";
    twp::write_file_atomically(path, "previous checkpoint");
    twp::save_safetensors(model, model_file(16, 1.0f));
    const std::string previous_model = read_file(model);

    const std::string big(256 * 1024, 'x');  // four times what the tmpfs holds
    std::string write_message, save_message;
    std::string reason;
    if (tmpfs.mounted()) {
        reason = "No space left on device";
        write_message = failure_of([&] { twp::write_file_atomically(path, big); });
        save_message = failure_of([&] { twp::save_safetensors(model, model_file(64 * 1024, 2.0f)); });
    } else {
        WARN(tmpfs.why_not() << ": simulating a full disk with RLIMIT_FSIZE (EFBIG) instead");
        reason = "File too large";
        FileSizeLimit limit(4096);
        write_message = failure_of([&] { twp::write_file_atomically(path, big); });
        save_message = failure_of([&] { twp::save_safetensors(model, model_file(64 * 1024, 2.0f)); });
    }
    CHECK_THAT(write_message, Contains("cannot write") && Contains(path.string()) &&
                                  Contains(reason) && Contains("free space"));
    CHECK_THAT(save_message, Contains(model.string()) && Contains(reason) && Contains("free space"));

    CHECK(read_file(path) == "previous checkpoint");
    CHECK(read_file(model) == previous_model);
    CHECK(twp::load_safetensors(model).at("w").f32()[0] == 1.0f);  // still whole, checksum good
    CHECK(temporary_files(dir).empty());

    if (tmpfs.mounted()) {
        // Completely full: not even a small file fits, and nothing is left behind.
        tmpfs.fill();
        const std::string message =
            failure_of([&] { twp::write_file_atomically(dir / "small.txt", "tiny"); });
        CHECK_THAT(message, Contains((dir / "small.txt").string()) &&
                                Contains("No space left on device"));
        CHECK_FALSE(fs::exists(dir / "small.txt"));
        CHECK(temporary_files(dir).empty());
    }
}

TEST_CASE("a read-only filesystem: the write fails clearly and the previous file is kept",
          "[storage]") {
    TinyTmpfs tmpfs("readonly", "64k");
    TempDir fallback_dir("readonly_fallback");
    fs::path dir;
    std::string reason;
    if (tmpfs.mounted()) {
        dir = tmpfs.path();
        twp::write_file_atomically(dir / "checkpoint.bin", "previous checkpoint");
        twp::save_safetensors(dir / "model.safetensors", model_file(16, 1.0f));
        REQUIRE(tmpfs.make_read_only());
        reason = "Read-only file system";
    } else {
        dir = fallback_dir.path / "locked";
        fs::create_directory(dir);
        twp::write_file_atomically(dir / "checkpoint.bin", "previous checkpoint");
        twp::save_safetensors(dir / "model.safetensors", model_file(16, 1.0f));
        ::chmod(dir.c_str(), 0555);
        if (::access(dir.c_str(), W_OK) == 0) {
            WARN("skipped: " << tmpfs.why_not()
                             << ", and as root a chmod 0555 directory is still writable");
            ::chmod(dir.c_str(), 0755);
            return;
        }
        WARN(tmpfs.why_not() << ": testing a chmod 0555 directory (EACCES) instead");
        reason = "Permission denied";
    }
    const std::string previous_model = read_file(dir / "model.safetensors");

    const fs::path path = dir / "checkpoint.bin";
    std::string message = failure_of([&] { twp::write_file_atomically(path, "new checkpoint"); });
    CHECK_THAT(message, Contains(path.string()) && Contains(reason) &&
                            Contains("check that the directory is writable"));
    const fs::path model = dir / "model.safetensors";
    message = failure_of([&] { twp::save_safetensors(model, model_file(16, 2.0f)); });
    CHECK_THAT(message, Contains(model.string()) && Contains(reason));
    message = failure_of([&] { twp::create_experiment_dir(dir / "results"); });
    CHECK_THAT(message, Contains((dir / "results").string()) && Contains(reason));

    CHECK(read_file(path) == "previous checkpoint");
    CHECK(read_file(model) == previous_model);
    CHECK_FALSE(fs::exists(dir / "results"));
    CHECK(temporary_files(dir).empty());
    ::chmod(dir.c_str(), 0755);
}

TEST_CASE("snapshots on a full disk: RunIndex::add fails clearly, the index keeps listing only "
          "complete files", "[storage][snapshots]") {
    // 384 KiB holds one snapshot (about 242 KiB) and its index, not a second snapshot.
    TinyTmpfs tmpfs("snapshots", "384k");
    TempDir fallback_dir("snapshots_fallback");
    const fs::path run_dir = (tmpfs.mounted() ? tmpfs.path() : fallback_dir.path) / "run_1";
    twp::RunIndex index = twp::RunIndex::start_fresh(run_dir);
    index.add(snapshot_record(1), trajectory_point(1));

    const twp::SnapshotRecord second = snapshot_record(2);
    std::string message;
    std::string reason;
    if (tmpfs.mounted()) {
        reason = "No space left on device";
        message = failure_of([&] { index.add(second, trajectory_point(2)); });
    } else {
        WARN(tmpfs.why_not() << ": simulating a full disk with RLIMIT_FSIZE (EFBIG) instead");
        reason = "File too large";
        FileSizeLimit limit(64 * 1024);
        message = failure_of([&] { index.add(second, trajectory_point(2)); });
    }
    CHECK_THAT(message, Contains((run_dir / second.file).string()) && Contains(reason) &&
                            Contains("free space"));

    // The index on disk still lists the one complete snapshot, which still reads (checksum
    // verified); the failed one exists neither under its name nor as a temporary.
    const twp::RunIndex reloaded = twp::RunIndex::load(run_dir);
    REQUIRE(reloaded.records().size() == 1);
    CHECK(reloaded.records()[0].file == snapshot_record(1).file);
    CHECK(twp::read_snapshot(run_dir / snapshot_record(1).file) == trajectory_point(1));
    CHECK_FALSE(fs::exists(run_dir / second.file));
    CHECK(temporary_files(run_dir).empty());
}

TEST_CASE("a results folder on a full disk: the experiment's first file fails clearly",
          "[storage][results]") {
    TinyTmpfs tmpfs("results_full", "64k");
    TempDir fallback_dir("results_full_fallback");
    const fs::path results = (tmpfs.mounted() ? tmpfs.path() : fallback_dir.path) / "results";
    std::string message;
    std::string reason;
    const auto create_and_write = [&] {
        // What twp does first in a results folder: create it, then write config.txt.
        const fs::path experiment = twp::create_experiment_dir(results);
        twp::write_config(experiment, twp::Config{}, "cpu", "storage fault test");
    };
    if (tmpfs.mounted()) {
        fs::create_directory(results);
        tmpfs.fill();
        reason = "No space left on device";
        message = failure_of(create_and_write);
    } else {
        WARN(tmpfs.why_not() << ": simulating a full disk with RLIMIT_FSIZE (EFBIG) instead");
        reason = "File too large";
        FileSizeLimit limit(16);
        message = failure_of(create_and_write);
    }
    CHECK_THAT(message, Contains(results.string()) && Contains(reason));
    CHECK(temporary_files(results).empty());
    // At most the empty folders were made: no file, complete or partial, under results/.
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(results, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        INFO(it->path().string());
        CHECK(it->is_directory());
    }
}

TEST_CASE("every experiment gets a new folder: the same second, or concurrently, never shared",
          "[storage][results]") {
    TempDir dir("experiments");
    const fs::path results = dir.path / "results";
    fs::create_directories(results);

    // Take the names of this second and the next, as another experiment would have, with a
    // result in each: create_experiment_dir must pick a third name and leave them alone.
    const std::time_t now = std::time(nullptr);
    std::vector<fs::path> taken;
    for (std::time_t t : {now, now + 1}) {
        std::tm local{};
        localtime_r(&t, &local);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "experiment_%Y%m%d_%H%M%S", &local);
        taken.push_back(results / stamp);
        fs::create_directory(taken.back());
        write_plain_file(taken.back() / "results_summary.txt", "earlier results");
    }
    const fs::path first = twp::create_experiment_dir(results);
    const fs::path second = twp::create_experiment_dir(results);
    CHECK(first != second);
    for (const fs::path& made : {first, second}) {
        CHECK(std::find(taken.begin(), taken.end(), made) == taken.end());
        CHECK(fs::is_directory(made / "models"));
        CHECK(fs::is_directory(made / "plots"));
        CHECK(made.filename().string().rfind("experiment_", 0) == 0);
    }
    // Within one second the suffix counts up: experiment_<stamp>_2, _3, ...
    if (first.filename().string().substr(0, 26) == second.filename().string().substr(0, 26))
        CHECK(second.filename().string().size() > 26);
    for (const fs::path& earlier : taken) {
        CHECK(read_file(earlier / "results_summary.txt") == "earlier results");
        CHECK_FALSE(fs::exists(earlier / "models"));
    }

    // Eight experiments started at once (threads here; separate twp processes alike): mkdir
    // claims each name atomically, so all eight folders differ.
    constexpr int concurrent = 8;
    std::vector<fs::path> made(concurrent);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < concurrent; ++i) {
        threads.emplace_back([&, i] {
            try {
                made[size_t(i)] = twp::create_experiment_dir(results);
            } catch (...) {
                ++failures;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(failures == 0);
    CHECK(std::set<fs::path>(made.begin(), made.end()).size() == concurrent);
}

namespace {

// IDX files of `count` 28x28 images with labels 0..9, enough for the CLI to start training.
void write_tiny_mnist(const fs::path& dir, int train, int test) {
    fs::create_directories(dir);
    const auto be32 = [](std::string& out, uint32_t value) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((value >> shift) & 0xff));
    };
    using Set = std::pair<std::string, int>;  // file prefix, image count
    for (const auto& [prefix, count] : {Set{"train", train}, Set{"t10k", test}}) {
        std::string images, labels;
        be32(images, 0x00000803);
        be32(images, uint32_t(count));
        be32(images, 28);
        be32(images, 28);
        be32(labels, 0x00000801);
        be32(labels, uint32_t(count));
        for (int i = 0; i < count; ++i) {
            for (int p = 0; p < 28 * 28; ++p) images.push_back(char((i * 31 + p * 7) % 256));
            labels.push_back(char(i % 10));
        }
        write_plain_file(dir / (prefix + "-images-idx3-ubyte"), images);
        write_plain_file(dir / (prefix + "-labels-idx1-ubyte"), labels);
    }
}

int run_twp(const std::string& arguments, const fs::path& log) {
    const std::string command =
        std::string(TWP_BINARY) + " --no_cuda --threads 1 " + arguments + " > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("twp exits non-zero with a clear message when it cannot write its outputs",
          "[storage][cli]") {
    TempDir dir("cli");
    const fs::path data = dir.path / "mnist", log = dir.path / "log.txt";
    write_tiny_mnist(data, 64, 16);
    const fs::path plain = dir.path / "plain_file";
    write_plain_file(plain, "not a directory");
    const std::string base = "--mode train_base --training_epochs 1 --num_runs 1 --data_dir " +
                             data.string() + " --snapshot_dir ";

    // --snapshot_dir under a regular file.
    int status = run_twp(base + (plain / "snapshots").string(), log);
    INFO(read_file(log));
    CHECK(status == 1);
    CHECK_THAT(read_file(log), Contains((plain / "snapshots").string()) &&
                                   Contains("ot a directory"));
    CHECK(read_file(plain) == "not a directory");

    // --results_dir under a regular file: train_predictor on ready snapshots stops at the
    // results folder, before training.
    const fs::path snapshots = dir.path / "snapshots";
    twp::RunIndex index = twp::RunIndex::start_fresh(twp::run_directory(snapshots, 1));
    for (int i = 1; i <= 8; ++i) index.add(snapshot_record(i), trajectory_point(i));
    const std::string predictor =
        "--mode train_predictor --apply_pca --n_components 2 --sequence_length 2 --predictor_epochs 1"
        " --num_layers 1 --dim_feedforward 8 --snapshot_dir " + snapshots.string() + " --results_dir ";
    status = run_twp(predictor + (plain / "results").string(), log);
    INFO(read_file(log));
    CHECK(status == 1);
    CHECK_THAT(read_file(log), Contains((plain / "results").string()) && Contains("directory"));

    TinyTmpfs tmpfs("cli", "64k");
    if (!tmpfs.mounted()) {
        WARN("full and read-only disks through the CLI skipped: " << tmpfs.why_not());
        return;
    }
    // --snapshot_dir on a full disk: the first snapshot (about 242 KiB) does not fit in 64 KiB.
    status = run_twp(base + (tmpfs.path() / "snapshots").string(), log);
    INFO(read_file(log));
    CHECK(status == 1);
    CHECK_THAT(read_file(log), Contains(tmpfs.path().string()) &&
                                   Contains("No space left on device"));
    CHECK(temporary_files(tmpfs.path()).empty());
    for (const auto& entry : fs::recursive_directory_iterator(tmpfs.path()))
        CHECK(entry.path().extension() != ".safetensors");

    // --results_dir on a read-only disk.
    REQUIRE(tmpfs.make_read_only());
    status = run_twp(predictor + (tmpfs.path() / "results").string(), log);
    INFO(read_file(log));
    CHECK(status == 1);
    CHECK_THAT(read_file(log), Contains((tmpfs.path() / "results").string()) &&
                                   Contains("Read-only file system"));
    CHECK_FALSE(fs::exists(tmpfs.path() / "results"));
}
