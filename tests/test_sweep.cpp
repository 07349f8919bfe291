// Sweeps (experiment/sweep.hpp): the grid and each cell's arguments as a pure function, every
// refusal before anything is written, and the twp binary running tiny sweeps on synthetic
// MNIST-shaped IDX files: one base training shared by two cells, a failing cell recorded while the
// other goes on, --resume rerunning only the cells not done, and the table's ratios equal to the
// cells' results.json numbers. Plus the heat map's pixel colours.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "experiment/config.hpp"
#include "experiment/plot.hpp"
#include "experiment/sweep.hpp"
#include "experiment/sweep_table.hpp"
#include "tests/synthetic_mnist.hpp"

#include "tests/png_decode.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using Catch::Contains;
using twp::parse_args;
using twp::plan_sweep;
using twp::UsageError;

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag)
        : path(fs::temp_directory_path() / ("twp_test_sweep_" + tag + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Json read_json(const fs::path& path) { return Json::parse(read_text(path)); }

// synthetic_mnist's images as IDX files (bytes back from the normalized values).
void write_idx_mnist(const fs::path& dir, int64_t train, int64_t test) {
    fs::create_directories(dir);
    const auto be32 = [](std::string& out, uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
    };
    for (const auto& [prefix, count, seed] : {std::tuple<std::string, int64_t, uint32_t>{"train", train, 1},
                                              std::tuple<std::string, int64_t, uint32_t>{"t10k", test, 2}}) {
        const twp::ImageSet set = twp::test::synthetic_mnist(count, seed);
        std::string images, labels;
        for (uint32_t v : {0x803u, uint32_t(count), 28u, 28u}) be32(images, v);
        for (uint32_t v : {0x801u, uint32_t(count)}) be32(labels, v);
        for (float p : set.pixels) images.push_back(char(std::lround(std::clamp((p * 0.3081f + 0.1307f) * 255.0f, 0.0f, 255.0f))));
        for (int32_t l : set.labels) labels.push_back(char(l));
        std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << images;
        std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << labels;
    }
}

int run_twp(const std::string& arguments, const fs::path& log) {
    const std::string command = std::string(TWP_BINARY) + " " + arguments + " > " + log.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Tiny settings: 256 train images in batches of 32, 4 snapshots an epoch, 3 epochs: 12 snapshots a
// run, 6 of them train (a validation window needs two train windows).
std::string tiny(const fs::path& data, const fs::path& results) {
    return "--no_cuda --data_dir " + data.string() + " --results_dir " + results.string() +
           " --training_epochs 3 --snapshots_per_epoch 4 --num_runs 2 --predictor_epochs 2 --num_layers 1"
           " --dim_feedforward 8 --apply_pca --n_components 4 --forecasters last_value,linear";
}

std::vector<fs::path> sweep_dirs(const fs::path& results) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(results))
        if (e.path().filename().string().rfind("sweep_", 0) == 0) dirs.push_back(e.path());
    return dirs;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(read_text(path));
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::stringstream items(line);
        for (std::string f; std::getline(items, f, ',');) fields.push_back(f);
        if (!line.empty() && line.back() == ',') fields.push_back("");
        rows.push_back(fields);
    }
    return rows;
}

// Every row's <key>_ratio equals the cell's results.json weight_mse over last value's.
void check_table_matches_results(const fs::path& sweep) {
    const auto rows = read_csv(sweep / "sweep_results.csv");
    REQUIRE(rows.size() >= 2);
    const std::vector<std::string>& header = rows[0];
    const auto column = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        REQUIRE(it != header.end());
        return size_t(it - header.begin());
    };
    for (size_t r = 1; r < rows.size(); ++r) {
        if (rows[r][column("status")] != "done") continue;
        const Json cell = read_json(sweep / rows[r][column("experiment")] / "results.json");
        const Json direct = cell["direct_prediction"];
        const double last = direct["last_value"]["weight_mse"].get<double>();
        // The ratio is the cell's verdict's (summed errors over its windows), which is the ratio
        // of the mean MSEs up to rounding.
        const auto verdict_ratio = [&](const std::string& key) {
            for (const Json& v : cell["verdicts"])
                if (v["forecaster"] == key) return v["ratio"].get<double>();
            return -1.0;
        };
        for (const char* key : {"last_value", "linear"}) {
            const double mse = direct[key]["weight_mse"].get<double>();
            CHECK(std::stod(rows[r][column(std::string(key) + "_weight_mse")]) == mse);
            CHECK(std::stod(rows[r][column(std::string(key) + "_ratio")]) == verdict_ratio(key));
            CHECK(std::stod(rows[r][column(std::string(key) + "_ratio")]) == Approx(mse / last).epsilon(1e-12));
        }
        CHECK(rows[r][column("best")] == "linear");
        CHECK(std::stod(rows[r][column("best_ratio")]) == verdict_ratio("linear"));
    }
}

}  // namespace

TEST_CASE("the grid: Cartesian product, last axis fastest, axis flags replaced, bases shared", "[sweep]") {
    const twp::Config config =
        parse_args({"--sweep", "sequence_length=3,5", "standardize=true,false", "--sequence_length", "7",
                    "--apply_pca", "--standardize", "--n_components", "4", "--jobs", "2", "--results_dir", "out"});
    const twp::SweepPlan plan = plan_sweep(config);
    REQUIRE(plan.axes.size() == 2);
    CHECK_FALSE(plan.axes[0].is_switch);
    CHECK(plan.axes[1].is_switch);
    REQUIRE(plan.cells.size() == 4);
    const std::vector<std::vector<std::string>> values = {{"3", "true"}, {"3", "false"}, {"5", "true"}, {"5", "false"}};
    for (size_t c = 0; c < 4; ++c) {
        CHECK(plan.cells[c].index == int(c) + 1);
        CHECK(plan.cells[c].values == values[c]);
        CHECK(plan.cells[c].base == 0);
    }
    CHECK(plan.cells[0].args == std::vector<std::string>{"--apply_pca", "--n_components", "4", "--sequence_length",
                                                         "3", "--standardize"});
    CHECK(plan.cells[3].args == std::vector<std::string>{"--apply_pca", "--n_components", "4", "--sequence_length", "5"});
    CHECK(plan.cells[3].config.sequence_length == 5);
    CHECK_FALSE(plan.cells[3].config.standardize);
    CHECK(plan.cells[1].folder == "cells/cell_002");
    REQUIRE(plan.bases.size() == 1);
    CHECK(plan.bases[0].cells == std::vector<int>{0, 1, 2, 3});
    CHECK(plan.jobs == 2);
    CHECK(plan.threads >= 1);
    CHECK(plan.results_dir == "out");
    // What --resume matches: the command without --jobs and --resume.
    CHECK(std::find(plan.command.begin(), plan.command.end(), "--jobs") == plan.command.end());
    CHECK(std::find(plan.command.begin(), plan.command.end(), "--sweep") != plan.command.end());

    const std::vector<std::string> child = twp::cell_child_args(plan, plan.cells[1], "S");
    const std::vector<std::string> tail(child.begin() + long(plan.cells[1].args.size()), child.end());
    CHECK(tail == std::vector<std::string>{"--mode", "full", "--resume", "--snapshot_dir", "S/cells/cell_002/snapshots",
                                           "--results_dir", "S/cells/cell_002", "--threads",
                                           std::to_string(plan.threads)});
    CHECK(std::find(child.begin(), child.end(), "S/cells/cell_002/snapshots") != child.end());
    CHECK(parse_args(child).results_dir == "S/cells/cell_002");

    // A base flag as an axis: one base training per value; --threads given: the children keep it.
    const twp::SweepPlan bases = plan_sweep(parse_args(
        {"--sweep", "training_epochs=2,3", "train_split=0.3,0.5", "--apply_pca", "--threads", "1"}));
    REQUIRE(bases.bases.size() == 2);
    CHECK(bases.bases[0].cells == std::vector<int>{0, 1});
    CHECK(bases.bases[1].cells == std::vector<int>{2, 3});
    CHECK(bases.bases[1].folder() == "base/base_02");
    CHECK(bases.threads == 0);
}

TEST_CASE("sweep refusals are usage errors", "[sweep]") {
    const auto refused = [](std::vector<std::string> args, const std::string& what) {
        args.push_back("--apply_pca");
        INFO(what);
        REQUIRE_THROWS_AS(plan_sweep(parse_args(args)), UsageError);
    };
    refused({"--sweep", "no_such_flag=1,2"}, "unknown axis");
    refused({"--sweep", "training_epochs=2,3", "base_epochs=4"}, "repeated axis (an alias)");
    refused({"--sweep", "sequence_length=3", "sequence_length=5"}, "repeated axis");
    for (const char* reserved : {"mode=full", "results_dir=a,b", "snapshot_dir=a", "resume=true", "jobs=1,2",
                                 "train_base=false"})
        refused({"--sweep", reserved}, reserved);
    refused({"--sweep", "train_split=0.5,1.5"}, "a cell that does not parse");
    refused({"--sweep", "apply_pca=yes"}, "a switch's value");
    refused({"--sweep", "sequence_length=3,3"}, "a repeated value");
    refused({"--sweep", "sequence_length=3", "--mode", "evaluate"}, "a mode other than full");
    refused({"--sweep", "sequence_length=3", "--snapshot_dir", "s"}, "a --snapshot_dir");
    refused({"--sweep", "n_components=1,2,3,4,5,6,7,8,9,10", "sequence_length=1,2,3,4,5,6,7,8,9,10",
             "batch_size=1,2,3,4,5,6,7,8,9,10"},
            "1000 cells");
    // A cell the experiment's plan refuses: without PCA the transformer is too wide.
    REQUIRE_THROWS_AS(plan_sweep(parse_args({"--sweep", "apply_pca=true,false"})), UsageError);
}

TEST_CASE("twp --sweep with a bad axis value exits 2 and writes nothing", "[sweep]") {
    TempDir dir("usage");
    const fs::path results = dir.path / "results";
    const int status =
        run_twp("--sweep sequence_length=2,x --apply_pca --results_dir " + results.string(), dir.path / "log.txt");
    INFO(read_text(dir.path / "log.txt"));
    CHECK(status == 2);
    CHECK_THAT(read_text(dir.path / "log.txt"), Contains("sequence_length"));
    CHECK_FALSE(fs::exists(results));
}

TEST_CASE("a 2x1 sweep trains its base once, both cells use it; resume reruns only the unfinished cell",
          "[sweep]") {
    TempDir dir("shared");
    const fs::path data = dir.path / "mnist", results = dir.path / "results", log = dir.path / "log.txt";
    write_idx_mnist(data, 256, 64);
    const std::string command = "--sweep sequence_length=2,3 " + tiny(data, results) + " --jobs 2";
    int status = run_twp(command, log);
    INFO(read_text(log));
    REQUIRE(status == 0);
    REQUIRE(sweep_dirs(results).size() == 1);
    const fs::path sweep = sweep_dirs(results)[0];

    // One base folder, trained once (its log shows the runs training); the cells found it complete.
    REQUIRE(std::distance(fs::directory_iterator(sweep / "base"), fs::directory_iterator()) == 1);
    const std::string base_log = read_text(sweep / "base/base_01/log.txt");
    CHECK_THAT(base_log, Contains("run 1/2: seed 42, 3 epochs") && Contains("run 2/2: seed 43, 3 epochs"));
    for (const char* cell : {"cell_001", "cell_002"}) {
        const std::string cell_log = read_text(sweep / "cells" / cell / "log.txt");
        CHECK_THAT(cell_log, Contains("run 1/2: already complete") && Contains("run 2/2: already complete"));
        CHECK_THAT(cell_log, !Contains("2 epochs, snapshots"));
        // The cell's snapshots are the base's very files (hard links: the same inode, never rewritten).
        for (const auto& e : fs::recursive_directory_iterator(sweep / "base/base_01/training_runs")) {
            if (!e.is_regular_file()) continue;
            struct stat base_stat {}, cell_stat {};
            const fs::path linked = sweep / "cells" / cell / "snapshots/training_runs" /
                                    fs::relative(e.path(), sweep / "base/base_01/training_runs");
            REQUIRE(::stat(e.path().c_str(), &base_stat) == 0);
            REQUIRE(::stat(linked.c_str(), &cell_stat) == 0);
            CHECK(base_stat.st_ino == cell_stat.st_ino);
        }
    }
    Json j = read_json(sweep / "sweep.json");
    REQUIRE(j["cells"].size() == 2);
    CHECK(j["cells"][0]["status"] == "done");
    CHECK(j["cells"][1]["status"] == "done");
    CHECK(j["cells"][1]["values"]["sequence_length"] == "3");
    CHECK(j["bases"].size() == 1);
    check_table_matches_results(sweep);
    CHECK(fs::exists(sweep / "plots/sweep_heatmap.png"));
    CHECK(read_csv(sweep / "plots/sweep_heatmap.csv").size() == 3);

    // As if the sweep had been killed during cell 2: it is "running" and its results are gone.
    const fs::path first_results = sweep / j["cells"][0]["experiment"].get<std::string>() / "results.json";
    const auto first_written = fs::last_write_time(first_results);
    fs::remove(sweep / j["cells"][1]["experiment"].get<std::string>() / "results.json");
    j["cells"][1]["status"] = "running";
    std::ofstream(sweep / "sweep.json") << j.dump(2);
    status = run_twp(command + " --resume", log);
    REQUIRE(status == 0);
    CHECK(sweep_dirs(results).size() == 1);
    CHECK(fs::last_write_time(first_results) == first_written);
    CHECK_THAT(read_text(sweep / "cells/cell_001/log.txt"), !Contains("---- twp --sweep --resume"));
    CHECK_THAT(read_text(sweep / "cells/cell_002/log.txt"), Contains("---- twp --sweep --resume"));
    CHECK_THAT(read_text(sweep / "base/base_01/log.txt"), !Contains("---- twp --sweep --resume"));
    j = read_json(sweep / "sweep.json");
    CHECK(j["cells"][1]["status"] == "done");
    CHECK(fs::exists(sweep / j["cells"][1]["experiment"].get<std::string>() / "results.json"));
    check_table_matches_results(sweep);
}

TEST_CASE("a failing cell is recorded, the others go on, the sweep exits 1; resume reruns only it", "[sweep]") {
    TempDir dir("failing");
    const fs::path data = dir.path / "mnist", results = dir.path / "results", log = dir.path / "log.txt";
    write_idx_mnist(data, 256, 64);
    // 12 snapshots a run, 6 of them train: a window of 5 leaves one train window and none to validate on.
    const std::string command = "--sweep sequence_length=2,5 " + tiny(data, results);
    int status = run_twp(command, log);
    INFO(read_text(log));
    CHECK(status == 1);
    REQUIRE(sweep_dirs(results).size() == 1);
    const fs::path sweep = sweep_dirs(results)[0];
    Json j = read_json(sweep / "sweep.json");
    CHECK(j["cells"][0]["status"] == "done");
    CHECK(j["cells"][1]["status"] == "failed");
    CHECK(j["cells"][1]["exit_code"] == 2);
    CHECK_THAT(j["cells"][1]["log_tail"].get<std::string>(), Contains("--sequence_length 5"));
    CHECK_THAT(read_text(log), Contains("cell 2/2 [sequence_length=5]: FAILED (exit 2)"));
    const auto rows = read_csv(sweep / "sweep_results.csv");
    REQUIRE(rows.size() == 3);
    CHECK(rows[2][2] == "failed");
    check_table_matches_results(sweep);

    status = run_twp(command + " --resume", log);
    CHECK(status == 1);
    CHECK(sweep_dirs(results).size() == 1);
    CHECK_THAT(read_text(sweep / "cells/cell_001/log.txt"), !Contains("---- twp --sweep --resume"));
    CHECK_THAT(read_text(sweep / "cells/cell_002/log.txt"), Contains("---- twp --sweep --resume"));
}

TEST_CASE("a 2x2 heat map: cells coloured on the diverging scale, centred at 1", "[sweep][plot]") {
    TempDir dir("heatmap");
    twp::HeatMap map;
    map.title = "ratio";
    map.x_label = "a";
    map.y_label = "b";
    map.scale_label = "ratio to last value";
    map.columns = {"1", "2"};
    map.rows = {"x", "y"};
    map.values = {0.1, 1.0, 10.0, NAN};  // bottom row: 0.1, 1; top row: 10, none
    map.notes = {"linear", "linear", "transformer", "failed"};
    CHECK(twp::heat_map_decades(map) == Approx(1.0));
    CHECK(twp::diverging_color(1.0, 1.0) == twp::Rgb{247, 247, 247});
    CHECK(twp::diverging_color(0.1, 1.0) == twp::Rgb{33, 102, 172});
    CHECK(twp::diverging_color(10.0, 1.0) == twp::Rgb{178, 24, 43});
    CHECK(twp::diverging_color(100.0, 1.0) == twp::Rgb{178, 24, 43});  // clamped
    CHECK(twp::diverging_color(NAN, 1.0) == twp::Rgb{204, 204, 204});
    const twp::Rgb halfway = twp::diverging_color(std::sqrt(10.0), 1.0);
    CHECK(halfway == twp::Rgb{213, 136, 145});

    const fs::path png = dir.path / "map.png";
    twp::save_heat_map_png(png, map);
    int width = 0, height = 0, channels = 0;
    unsigned char* pixels = stbi_load(png.c_str(), &width, &height, &channels, 3);
    REQUIRE(pixels != nullptr);
    CHECK(width == 1000);
    CHECK(height == 640);
    const auto at = [&](double x, double y) {
        const unsigned char* p = pixels + (size_t(y) * width + size_t(x)) * 3;
        return twp::Rgb{p[0], p[1], p[2]};
    };
    const twp::Rgb expected[2][2] = {{{33, 102, 172}, {247, 247, 247}}, {{178, 24, 43}, {204, 204, 204}}};
    for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) {
            const twp::RectF cell = twp::heat_map_cell(map, c, r);
            CAPTURE(r, c, cell.x0, cell.y0, cell.x1, cell.y1);
            CHECK(cell.width() > 100);
            // Corners: the fill; the middle holds the label, in a contrasting colour.
            CHECK(at(cell.x0 + 3, cell.y0 + 3) == expected[r][c]);
            CHECK(at(cell.x1 - 4, cell.y1 - 4) == expected[r][c]);
            int other = 0;
            for (double y = cell.y0 + cell.height() * 0.35; y < cell.y0 + cell.height() * 0.65; ++y)
                for (double x = cell.x0 + cell.width() * 0.3; x < cell.x0 + cell.width() * 0.7; ++x)
                    other += !(at(x, y) == expected[r][c]);
            CHECK(other > 50);
        }
    // Row 0 is the bottom row.
    CHECK(twp::heat_map_cell(map, 0, 0).y0 > twp::heat_map_cell(map, 0, 1).y1);
    stbi_image_free(pixels);

    twp::save_heat_map_csv(dir.path / "map.csv", map);
    CHECK(read_text(dir.path / "map.csv") ==
          "x,y,value,note\n1,x,0.1,linear\n2,x,1,linear\n1,y,10,transformer\n2,y,,failed\n");
    map.values.pop_back();
    REQUIRE_THROWS_WITH(twp::save_heat_map_png(png, map), Contains("2 columns x 2 rows"));
}

TEST_CASE("the table reads ratios and verdicts from results.json's verdicts; more axes give one map each",
          "[sweep]") {
    TempDir dir("table");
    const fs::path results = dir.path / "results.json";
    const auto write = [&](const Json& j) { std::ofstream(results) << j.dump(); };
    const Json direct = {{"windows", 4},
                         {"transformer", {{"pca_mse", 1.0}, {"weight_mse", 3.0}}},
                         {"last_value", {{"pca_mse", 1.0}, {"weight_mse", 2.0}}},
                         {"linear", {{"pca_mse", 1.0}, {"weight_mse", 1.0}}}};
    write({{"direct_prediction", direct}});
    twp::CellScores scores = twp::read_cell_scores(results);
    REQUIRE(scores.forecasters.size() == 3);
    CHECK(scores.forecasters[0].key == "transformer");
    CHECK(scores.forecasters[0].ratio == 1.5);
    CHECK(scores.forecasters[1].ratio == 1.0);
    CHECK(scores.best == "linear");
    CHECK(scores.best_ratio == 0.5);
    CHECK(scores.split.empty());

    // Verdicts win over the computed ratios, from the first split listed.
    const Json verdicts = Json::array(
        {{{"split", "time"}, {"forecaster", "transformer"}, {"ratio", 0.25}, {"low", 0.2}, {"high", 0.3}, {"verdict", "beats"}},
         {{"split", "time"}, {"forecaster", "linear"}, {"ratio", 0.75}, {"low", 0.5}, {"high", 1.1}, {"verdict", "tie"}},
         {{"split", "runs"}, {"forecaster", "linear"}, {"ratio", 0.01}, {"low", 0.0}, {"high", 0.1}, {"verdict", "beats"}}});
    write({{"direct_prediction", direct}, {"verdicts", verdicts}});
    scores = twp::read_cell_scores(results);
    CHECK(scores.split == "time");
    CHECK(scores.best == "transformer");
    CHECK(scores.best_ratio == 0.25);
    CHECK(scores.forecasters[2].verdict == "tie");
    CHECK(scores.forecasters[2].high == 1.1);
    write({{"mode", "full"}});
    REQUIRE_THROWS_WITH(twp::read_cell_scores(results), Contains("no direct_prediction"));

    // Three axes: one heat map per value of the third; the CSV gets the verdict columns.
    std::vector<twp::SweepTableRow> rows;
    int cell = 0;
    for (const char* a : {"1", "2"})
        for (const char* b : {"x", "y"})
            for (const char* c : {"p", "q"}) {
                twp::SweepTableRow row;
                row.cell = ++cell;
                row.values = {a, b, c};
                row.status = cell == 3 ? "failed" : "done";
                if (cell != 3) row.scores = scores;
                rows.push_back(row);
            }
    const std::string summary = twp::write_sweep_table(dir.path, {"a", "b", "c"}, {{"1", "2"}, {"x", "y"}, {"p", "q"}}, rows);
    CHECK_THAT(summary, Contains("8 cells, 7 done"));
    CHECK(fs::exists(dir.path / "plots/sweep_heatmap_c-p.png"));
    CHECK(fs::exists(dir.path / "plots/sweep_heatmap_c-q.png"));
    CHECK(read_text(dir.path / "plots/sweep_heatmap_c-p.csv") ==
          "x,y,value,note\n1,x,0.25,transformer\n2,x,0.25,transformer\n1,y,,failed\n2,y,0.25,transformer\n");
    const auto csv = read_csv(dir.path / "sweep_results.csv");
    REQUIRE(csv.size() == 9);
    CHECK(csv[0][8] == "split");
    CHECK(std::find(csv[0].begin(), csv[0].end(), "linear_verdict") != csv[0].end());
    CHECK(csv[1][8] == "time");
}
