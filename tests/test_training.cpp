// Base training on the real MNIST files (tools/fetch-data.sh puts them in data/mnist): the
// accuracy the reference reaches, bit-for-bit determinism, and the twp binary's refusals.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <omp.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

#include "engine/cpu_backend.hpp"
#include "experiment/base_training.hpp"
#include "experiment/mnist.hpp"
#include "experiment/snapshots.hpp"

using namespace twp;
namespace fs = std::filesystem;

namespace {

const Dataset& mnist() {
    static const Dataset dataset = load_dataset(std::string(TWP_SOURCE_DIR) + "/data/mnist", "mnist");
    return dataset;
}

CpuBackend& backend() {
    static CpuBackend instance;
    return instance;
}

fs::path fresh_temp_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("twp_train_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    return dir;
}

std::string file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first `train` training and `test` test images: a quick training set.
Dataset subset(int64_t train, int64_t test) {
    Dataset d = mnist();
    for (auto [set, n] : {std::pair{&d.train, train}, std::pair{&d.test, test}}) {
        set->count = n;
        set->pixels.resize(n * 28 * 28);
        set->labels.resize(n);
    }
    return d;
}

int run_twp(const std::string& arguments, const fs::path& log) {
    const std::string command = std::string(TWP_BINARY) + " " + arguments + " > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("one epoch of base training reaches 97% test accuracy", "[training][mnist]") {
    REQUIRE(mnist().train.count == 60000);
    REQUIRE(mnist().test.count == 10000);
    const fs::path dir = fresh_temp_dir("epoch");
    BaseTrainingOptions options;
    options.epochs = 1;
    options.num_runs = 1;
    options.snapshots_per_epoch = 2;
    options.snapshot_dir = dir;
    options.show_progress = false;
    const std::vector<RunSummary> runs = train_base(backend(), mnist(), options);
    REQUIRE(runs.size() == 1);
    CAPTURE(runs[0].final_test.accuracy, runs[0].final_test.loss);
    REQUIRE(runs[0].final_test.accuracy >= 97.0);
    REQUIRE(runs[0].final_test.loss < 0.12);

    const RunIndex index = RunIndex::load(run_directory(dir, 1));
    REQUIRE(index.records().size() == 2);
    REQUIRE(index.records()[0].file == "epoch_001_batch_00938.safetensors");  // after batch 937
    REQUIRE(index.records()[0].epoch_fraction == Approx(938.0 / 1875.0));
    REQUIRE(index.records()[1].file == "epoch_001_batch_01875.safetensors");
    REQUIRE(index.records()[1].step == 1875);
    REQUIRE(index.records()[1].test_accuracy == runs[0].final_test.accuracy);
    // The first snapshot is already a trained network, the second a better one.
    REQUIRE(index.records()[0].test_accuracy > 90.0);
    fs::remove_all(dir);
}

TEST_CASE("the same seed gives byte-identical snapshot files", "[training][mnist]") {
    const Dataset small = subset(3000, 1000);
    BaseTrainingOptions options;
    options.epochs = 2;
    options.num_runs = 2;
    options.snapshots_per_epoch = 3;
    options.show_progress = false;
    const fs::path a = fresh_temp_dir("det_a"), b = fresh_temp_dir("det_b"), c = fresh_temp_dir("det_c");
    options.snapshot_dir = a;
    train_base(backend(), small, options);
    options.snapshot_dir = b;
    train_base(backend(), small, options);
    // Fixed at one thread, without the tuner (which may switch counts mid-run in a and b): the
    // ops give the same bits for any thread count, so the files are the same.
    const fs::path single = fresh_temp_dir("det_single");
    options.snapshot_dir = single;
    options.tune_threads = false;
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    train_base(backend(), small, options);
    omp_set_num_threads(threads);
    options.tune_threads = true;
    options.snapshot_dir = c;
    options.random_seed = 1000;
    train_base(backend(), small, options);

    for (int run = 1; run <= 2; ++run) {
        const RunIndex index = RunIndex::load(run_directory(a, run));
        REQUIRE(index.records().size() == 6);
        for (const SnapshotRecord& r : index.records()) {
            CAPTURE(run, r.file);
            const std::string bytes = file_bytes(run_directory(a, run) / r.file);
            REQUIRE(bytes.size() > 61706 * 4);
            REQUIRE(bytes == file_bytes(run_directory(b, run) / r.file));
            REQUIRE(bytes == file_bytes(run_directory(single, run) / r.file));
            REQUIRE(read_snapshot(run_directory(a, run) / r.file) !=
                    read_snapshot(run_directory(c, run) / r.file));
        }
        REQUIRE(file_bytes(run_directory(a, run) / "index.json") ==
                file_bytes(run_directory(b, run) / "index.json"));
    }
    // Runs differ from each other: run 2 is seeded random_seed + 1.
    REQUIRE(file_bytes(run_directory(a, 1) / "epoch_001_batch_00032.safetensors") !=
            file_bytes(run_directory(a, 2) / "epoch_001_batch_00032.safetensors"));
    for (const fs::path& dir : {a, b, c, single}) fs::remove_all(dir);
}

TEST_CASE("twp refuses bad input clearly and writes nothing", "[training][cli]") {
    const fs::path dir = fresh_temp_dir("cli");
    fs::create_directories(dir);
    const fs::path log = dir / "log.txt", snapshots = dir / "snapshots";
    const auto output = [&] { return file_bytes(log); };

    REQUIRE(run_twp("--mode train_base --num_runs 0 --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--num_runs must be at least 1"));

    REQUIRE(run_twp("--mode train_base --training_epochs -1 --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE(run_twp("--mode fly", log) == 2);
    REQUIRE(run_twp("--mode train_base --dataset cifar10", log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("mnist|fashion-mnist"));

    REQUIRE(run_twp("--mode train_base --data_dir " + (dir / "nowhere").string() +
                        " --snapshot_dir " + snapshots.string(), log) == 1);
    REQUIRE_THAT(output(), Catch::Contains("tools/fetch-data.sh"));

    // The reference's default (no PCA) would make a 61,706-wide transformer: refused up front.
    REQUIRE(run_twp("--mode full --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--apply_pca"));
    // A plan whose snapshots would leave no test window is refused before training starts.
    REQUIRE(run_twp("--mode full --apply_pca --training_epochs 2 --data_dir " + std::string(TWP_SOURCE_DIR) +
                        "/data/mnist --snapshot_dir " + snapshots.string(), log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("leaves no train or no test window"));

    // The protocol's flags: an unknown forecaster, a split without a run to hold out, a study in
    // a mode that trains nothing, no validation windows to choose on.
    const std::string small = " --apply_pca --snapshot_dir " + snapshots.string() + " --results_dir " + (dir / "results").string();
    REQUIRE(run_twp("--mode full --forecasters last_value,oracle" + small, log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("no forecaster 'oracle'") && Catch::Contains("last_value"));
    REQUIRE(run_twp("--mode full --forecasters last_value,last_value" + small, log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("twice"));
    REQUIRE(run_twp("--mode full --split runs --num_runs 1" + small, log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--num_runs 2 or more"));
    REQUIRE(run_twp("--mode evaluate --repeats 3 --model_path m.safetensors" + small, log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--mode full or train_predictor"));
    REQUIRE(run_twp("--mode full --validation_fraction 0" + small, log) == 2);
    REQUIRE_THAT(output(), Catch::Contains("--selection test"));
    REQUIRE(run_twp("--mode full --forecasters" + small, log) == 2);
    REQUIRE(run_twp("--mode full --split sideways" + small, log) == 2);
    REQUIRE(run_twp("--mode full --repeats 0" + small, log) == 2);
    REQUIRE_FALSE(fs::exists(dir / "results"));

    REQUIRE_FALSE(fs::exists(snapshots));
    REQUIRE(run_twp("--help", log) == 0);
    REQUIRE_THAT(output(), Catch::Contains("--snapshots_per_epoch"));
    fs::remove_all(dir);
}

namespace {

bool png_is_a_plot(const fs::path& path) {
    // Decodable, the expected size, and not blank: many distinct colours.
    int width = 0, height = 0, channels = 0;
    unsigned char* pixels = stbi_load(path.string().c_str(), &width, &height, &channels, 3);
    if (!pixels) return false;
    std::set<uint32_t> colors;
    for (int i = 0; i < width * height; ++i)
        colors.insert(uint32_t(pixels[3 * i]) << 16 | uint32_t(pixels[3 * i + 1]) << 8 | pixels[3 * i + 2]);
    stbi_image_free(pixels);
    return width >= 400 && height >= 300 && colors.size() > 20;
}

fs::path only_experiment(const fs::path& results) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(results)) found.push_back(entry.path());
    REQUIRE(found.size() == 1);
    return found.front();
}

}  // namespace

TEST_CASE("the full pipeline end to end: every file of the results folder", "[pipeline][mnist]") {
    const fs::path dir = fresh_temp_dir("pipeline");
    const fs::path snapshots = dir / "snapshots", results = dir / "results", log = dir / "log.txt";
    fs::create_directories(dir);
    const std::string common = " --snapshot_dir " + snapshots.string() + " --data_dir " +
                               std::string(TWP_SOURCE_DIR) + "/data/mnist";
    const int status = run_twp("--mode full --num_runs 2 --training_epochs 1 --snapshots_per_epoch 10 --apply_pca "
                               "--n_components 8 --predictor_epochs 2 --dim_feedforward 64 --num_layers 2 "
                               "--forecasters seed,transformer,last_value,linear" +
                                   common + " --results_dir " + results.string(), log);
    INFO(file_bytes(log));
    REQUIRE(status == 0);
    const fs::path experiment = only_experiment(results);
    for (const char* file : {"config.txt", "results_summary.txt", "results.json", "models/seed_best.safetensors",
                             "models/seed_last.safetensors", "models/transformer_best.safetensors",
                             "models/transformer_last.safetensors", "models/pca.safetensors"})
        REQUIRE(fs::file_size(experiment / file) > 100);
    for (const char* plot : {"training_loss", "weight_trajectory", "extrapolation_error", "plug_in_accuracy",
                             "base_training"}) {
        CAPTURE(plot);
        REQUIRE(png_is_a_plot(experiment / "plots" / (std::string(plot) + ".png")));
        REQUIRE(file_bytes(experiment / "plots" / (std::string(plot) + ".csv")).rfind("series,x,y", 0) == 0);
    }
    const std::string summary = file_bytes(experiment / "results_summary.txt");
    for (const char* section : {"Base Model Final Accuracy", "Direct Prediction MSE", "last value", "linear",
                                "Multi-step Prediction MSEs", "Plug-in Test Accuracies", "true snapshot"})
        REQUIRE_THAT(summary, Catch::Contains(section));
    const nlohmann::json json = nlohmann::json::parse(file_bytes(experiment / "results.json"));
    REQUIRE(json["pca"]["components"] == 8);
    REQUIRE(json["predictors"]["seed"]["training"]["validation_loss"].size() == 2);
    REQUIRE(json["predictors"]["transformer"]["training"]["selection"] == "validation");
    // Each run: 11 snapshots (10 inside the epoch and its end), 5 train and 6 test: 3 test windows
    // per run, and 3 test snapshots after the first test window to extrapolate to.
    REQUIRE(json["direct_prediction"]["windows"] == 6);
    REQUIRE(json["extrapolation"]["transformer"]["pca_mse_per_step"].size() == 3);
    // The true snapshots of a one-epoch LeNet-5 score well above chance when plugged back in.
    REQUIRE(json["plug_in"]["true_snapshot"]["accuracy_per_step"][0].get<double>() > 90.0);
    REQUIRE(json["plug_in"]["true_pca_round_trip"]["accuracy_per_step"][0].get<double>() > 20.0);

    // The evaluation modes reload the saved predictor and PCA; nothing is retrained or overwritten.
    const fs::path model = experiment / "models" / "seed_best.safetensors";
    const fs::path eval_results = dir / "eval_results";
    REQUIRE(run_twp("--mode evaluate --model_path " + model.string() + common + " --results_dir " +
                        eval_results.string(), log) == 0);
    const nlohmann::json evaluated = nlohmann::json::parse(file_bytes(only_experiment(eval_results) / "results.json"));
    REQUIRE(evaluated["direct_prediction"]["seed"]["pca_mse"] == json["direct_prediction"]["seed"]["pca_mse"]);
    REQUIRE_FALSE(evaluated["direct_prediction"].contains("transformer"));  // the file is seed's

    // Bad input: each a clear error, a non-zero exit, nothing new written.
    REQUIRE(run_twp("--mode evaluate" + common, log) == 2);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("--model_path"));
    REQUIRE(run_twp("--mode evaluate --model_path " + (dir / "missing.safetensors").string() + common, log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("does not exist"));
    REQUIRE(run_twp("--mode train_predictor --snapshot_dir " + (dir / "empty").string(), log) == 2);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("--apply_pca"));
    REQUIRE(run_twp("--mode train_predictor --apply_pca --snapshot_dir " + (dir / "empty").string(), log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("no snapshots"));
    REQUIRE(run_twp("--mode train_predictor --apply_pca --sequence_length 6" + common, log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("leaves no"));
    REQUIRE(run_twp("--mode train_predictor --apply_pca --train_split 1.5" + common, log) == 2);
    REQUIRE(run_twp("--mode train_predictor --apply_pca --n_components 0" + common, log) == 2);
    // A predictor beside a PCA of another width.
    const fs::path mixed = dir / "mixed";
    fs::create_directories(mixed);
    fs::copy_file(model, mixed / "predictor_best.safetensors");
    REQUIRE(run_twp("--mode train_predictor --apply_pca --n_components 4 --predictor_epochs 1 --num_layers 1"
                    " --dim_feedforward 16" + common + " --results_dir " + (dir / "other").string(), log) == 0);
    fs::copy_file(only_experiment(dir / "other") / "models" / "pca.safetensors", mixed / "pca.safetensors");
    REQUIRE(run_twp("--mode evaluate --model_path " + (mixed / "predictor_best.safetensors").string() + common +
                        " --results_dir " + eval_results.string(), log) == 1);
    REQUIRE_THAT(file_bytes(log), Catch::Contains("components"));
    REQUIRE(std::distance(fs::directory_iterator(eval_results), fs::directory_iterator()) == 1);
    fs::remove_all(dir);
}
