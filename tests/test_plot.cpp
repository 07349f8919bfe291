// Tests for the plots (experiment/plot.hpp): tick values and labels asserted exactly; PNGs decoded
// back with stb_image and checked for size, color, text where the title and axes are, every series
// in the plot area and in the legend, and broken lines at NaN; the CSV's rows; every degenerate
// input (empty, single point, equal values, NaN/Inf, non-positive values on a log axis) producing a
// valid image; and clear errors for a missing directory, mismatched series and a missing font.
// The five plots twp makes are rendered with plausible data; set TWP_PLOT_EXAMPLES_DIR to keep
// them (e.g. to look at them after a change) instead of a temporary directory.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/error.hpp"
#include "experiment/plot.hpp"

#include "tests/png_decode.hpp"

namespace {

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using twp::Plot;
using twp::Rgb;
using twp::Series;
using twp::SeriesStyle;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag) {
        path = fs::temp_directory_path() / ("twp_test_" + tag + "_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

// A decoded PNG, RGB.
struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // (height, width, 3)

    Rgb at(int x, int y) const {
        const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
        return {p[0], p[1], p[2]};
    }
    // Pixels of exactly `color` in the rectangle [x0, x1) x [y0, y1), given as fractions of the size.
    int count(Rgb color, double fx0, double fy0, double fx1, double fy1) const {
        int n = 0;
        for (int y = int(fy0 * height); y < int(fy1 * height); ++y)
            for (int x = int(fx0 * width); x < int(fx1 * width); ++x) n += at(x, y) == color;
        return n;
    }
    // Pixels dark enough to be text (or the frame) in the rectangle, as fractions of the size.
    int dark(double fx0, double fy0, double fx1, double fy1) const {
        int n = 0;
        for (int y = int(fy0 * height); y < int(fy1 * height); ++y)
            for (int x = int(fx0 * width); x < int(fx1 * width); ++x) {
                const Rgb c = at(x, y);
                n += c.r < 110 && c.g < 110 && c.b < 110;
            }
        return n;
    }
    size_t distinct_colors() const {
        std::set<uint32_t> colors;
        for (size_t i = 0; i < rgb.size(); i += 3)
            colors.insert(uint32_t(rgb[i]) << 16 | uint32_t(rgb[i + 1]) << 8 | rgb[i + 2]);
        return colors.size();
    }
};

Image decode_png(const fs::path& path) {
    Image image;
    int channels = 0;
    stbi_uc* data = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
    INFO("decoding " << path << ": " << (data ? "ok" : stbi_failure_reason()));
    REQUIRE(data != nullptr);
    image.rgb.assign(data, data + size_t(image.width) * image.height * 3);
    stbi_image_free(data);
    return image;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<double> range_values(int n, double first = 0, double step = 1) {
    std::vector<double> values(n);
    for (int i = 0; i < n; ++i) values[i] = first + step * i;
    return values;
}

// Three decreasing curves: the data runs from the upper left to the lower right, so the upper
// right corner (where the legend goes) holds no data.
Plot three_series_plot() {
    Plot plot;
    plot.title = "Training loss";
    plot.x_label = "epoch";
    plot.y_label = "MSE";
    const auto colors = twp::palette();
    const SeriesStyle styles[] = {SeriesStyle::kLinePoints, SeriesStyle::kDashedLine, SeriesStyle::kPoints};
    for (int s = 0; s < 3; ++s) {
        Series series{"series " + std::to_string(s + 1), range_values(20, 1), {}, colors[s], styles[s]};
        for (double x : series.x) series.y.push_back((3.0 + s) / x);
        plot.series.push_back(series);
    }
    return plot;
}

}  // namespace

TEST_CASE("linear ticks step by 1, 2 or 5 times a power of ten", "[plot]") {
    CHECK(twp::linear_ticks(0, 1, 6) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});
    CHECK(twp::linear_ticks(-3.7, 12.2, 8) == std::vector<double>{-2, 0, 2, 4, 6, 8, 10, 12});
    CHECK(twp::linear_ticks(0.95, 1.32, 5) == std::vector<double>{1, 1.1, 1.2, 1.3});
    CHECK(twp::linear_ticks(-0.25, 0.25, 3) == std::vector<double>{-0.2, 0, 0.2});
    CHECK(twp::linear_ticks(0, 48000, 6) == std::vector<double>{0, 10000, 20000, 30000, 40000});
    CHECK(twp::linear_ticks(2e-5, 9e-5, 4) == std::vector<double>{2e-5, 4e-5, 6e-5, 8e-5});
    // Near-zero multiples are exactly zero, never -0 or 5.5e-17.
    const auto ticks = twp::linear_ticks(-0.3, 0.31, 7);
    CHECK(ticks == std::vector<double>{-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3});
    CHECK(std::signbit(ticks[3]) == false);
    CHECK_THROWS_WITH(twp::linear_ticks(1, 1, 5), Contains("lo < hi"));
}

TEST_CASE("integer ticks are whole numbers, never a step below 1", "[plot]") {
    using V = std::vector<double>;
    CHECK(twp::integer_ticks(1, 3, 6) == V{1, 2, 3});
    CHECK(twp::integer_ticks(1, 5, 6) == V{1, 2, 3, 4, 5});
    CHECK(twp::integer_ticks(1, 100, 6) == V{20, 40, 60, 80, 100});
    CHECK(twp::integer_ticks(0.25, 2, 6) == V{1, 2});  // fractional epoch positions
    CHECK(twp::integer_ticks(1, 2, 10) == V{1, 2});
    CHECK(twp::integer_ticks(0, 48000, 6) == twp::linear_ticks(0, 48000, 6));  // wide: the same ticks
    // The ranges the renderer asks for (the data padded by 4%), and the same with linear ticks.
    CHECK(twp::integer_ticks(0.92, 3.08, 12) == V{1, 2, 3});
    CHECK(twp::linear_ticks(0.92, 3.08, 12) == V{1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8, 3});
    CHECK(twp::integer_ticks(0.18, 2.07, 12) == V{1, 2});
    CHECK(twp::integer_ticks(-2.96, 103.96, 12) == V{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100});
    CHECK(twp::integer_ticks(-3.5, -0.5, 6) == V{-3, -2, -1});
    CHECK(twp::integer_ticks(0, 0.5, 4) == V{0});
    CHECK(twp::integer_ticks(1.2, 1.8, 5).empty());  // no whole number inside
    for (double hi : {1.5, 2.0, 3.0, 7.0, 12.5, 99.0, 1e3, 1.2e5})
        for (int max_count : {2, 3, 5, 8, 13}) {
            CAPTURE(hi, max_count);
            const V ticks = twp::integer_ticks(0.5, hi, max_count);
            CHECK(int(ticks.size()) <= max_count);
            for (double t : ticks) CHECK(t == std::round(t));
            if (ticks.size() > 1) CHECK(ticks[1] - ticks[0] >= 1);
        }
    CHECK_THROWS_WITH(twp::integer_ticks(1, 1, 5), Contains("integer_ticks") && Contains("lo < hi"));
    CHECK_THROWS_WITH(twp::integer_ticks(0, 1, 1), Contains("max_count >= 2"));

    CHECK(twp::format_integer_tick(3, 1, 3) == "3");
    CHECK(twp::format_integer_tick(0, 1, 3) == "0");
    CHECK(twp::format_integer_tick(-2, 1, 3) == "-2");
    CHECK(twp::format_integer_tick(40, 20, 100) == "40");
    CHECK(twp::format_integer_tick(12000, 1000, 20000) == "12k");
    CHECK(twp::format_integer_tick(10001, 1, 10005) == "10001");  // format_tick: "10.001k"
}

TEST_CASE("log ticks are powers of ten, thinned over many decades, 1-2-5 over few", "[plot]") {
    CHECK(twp::log_ticks(1e-5, 0.3, 10) == std::vector<double>{1e-5, 1e-4, 1e-3, 1e-2, 1e-1});
    CHECK(twp::log_ticks(1e-12, 1e3, 5) == std::vector<double>{1e-12, 1e-8, 1e-4, 1});
    CHECK(twp::log_ticks(0.05, 3, 10) == std::vector<double>{0.05, 0.1, 0.2, 0.5, 1, 2});
    CHECK(twp::log_ticks(3, 4.5, 6) == std::vector<double>{3, 3.5, 4, 4.5});
    CHECK_THROWS_WITH(twp::log_ticks(0, 10, 5), Contains("0 < lo"));
}

TEST_CASE("tick labels are compact", "[plot]") {
    CHECK(twp::format_tick(0.5, 0.5, 2) == "0.5");
    CHECK(twp::format_tick(1, 0.5, 2) == "1.0");
    CHECK(twp::format_tick(-2, 1, 5) == "-2");
    CHECK(twp::format_tick(5.551115123125783e-17, 0.1, 1) == "0");
    CHECK(twp::format_tick(98.5, 0.5, 99) == "98.5");
    CHECK(twp::format_tick(12000, 1000, 20000) == "12k");
    CHECK(twp::format_tick(12500, 500, 20000) == "12.5k");
    CHECK(twp::format_tick(1.5e6, 5e5, 2e6) == "1.5M");
    CHECK(twp::format_tick(1e-4, 1e-4, 5e-4) == "1e-4");
    CHECK(twp::format_tick(2.5e-5, 5e-6, 5e-5) == "2.5e-5");
    CHECK(twp::format_tick(3e12, 1e12, 5e12) == "3e12");

    CHECK(twp::format_compact(0.5) == "0.5");
    CHECK(twp::format_compact(1) == "1");
    CHECK(twp::format_compact(0.01) == "0.01");
    CHECK(twp::format_compact(1e-4) == "1e-4");
    CHECK(twp::format_compact(2e-7) == "2e-7");
    CHECK(twp::format_compact(1000) == "1000");
    CHECK(twp::format_compact(12000) == "12k");
    CHECK(twp::format_compact(1e5) == "100k");
    CHECK(twp::format_compact(2.5e6) == "2.5M");
    CHECK(twp::format_compact(0) == "0");
}

TEST_CASE("a three-series plot: size, colors, text, series and legend", "[plot]") {
    TempDir dir("plot_png");
    const Plot plot = three_series_plot();
    twp::save_plot_png(dir.path / "loss.png", plot);
    const Image image = decode_png(dir.path / "loss.png");
    REQUIRE(image.width == 1000);
    REQUIRE(image.height == 640);

    // White background, and far from blank: anti-aliasing alone gives hundreds of shades.
    CHECK(image.at(2, 2) == Rgb{255, 255, 255});
    CHECK(image.count({255, 255, 255}, 0, 0, 1, 1) > 1000 * 640 / 2);
    CHECK(image.distinct_colors() > 200);

    // Every series' exact color inside the plot area (lines are 2 px wide, markers filled).
    for (const Series& series : plot.series) {
        INFO(series.name);
        CHECK(image.count(series.color, 0.1, 0.08, 0.97, 0.88) > 100);
    }
    // Dark text: the title band, the y tick labels left of the axis, the x labels below it.
    CHECK(image.dark(0.3, 0, 0.7, 0.06) > 150);
    CHECK(image.dark(0, 0.1, 0.08, 0.85) > 150);
    CHECK(image.dark(0.1, 0.9, 0.97, 1) > 150);
    // The legend sits in the upper right, where the data is not: each color there, and its frame.
    for (const Series& series : plot.series) {
        INFO(series.name);
        CHECK(image.count(series.color, 0.72, 0.06, 0.98, 0.3) > 10);
    }
    CHECK(image.count({200, 200, 200}, 0.72, 0.06, 0.98, 0.3) > 100);
    CHECK(image.dark(0.72, 0.06, 0.98, 0.3) > 100);  // the series names
}

TEST_CASE("a NaN breaks the line and the CSV keeps only finite points", "[plot]") {
    TempDir dir("plot_nan");
    Plot plot;
    plot.title = "gap";
    Series series{"flat, with a gap", range_values(11), std::vector<double>(11, 1.0), {214, 39, 40},
                  SeriesStyle::kLine};
    series.y[5] = kNaN;  // no line from x = 4 to x = 6: about a fifth of the plot width
    series.y[8] = kInf;  // and none from 7 to 9
    plot.series.push_back(series);
    plot.series.push_back({"empty", {}, {}, {31, 119, 180}, SeriesStyle::kPoints});
    plot.series.push_back({"b", {0.5, 1.5}, {kNaN, 2}, {44, 160, 44}, SeriesStyle::kPoints});
    twp::save_plot_png(dir.path / "gap.png", plot);
    const Image image = decode_png(dir.path / "gap.png");

    std::vector<bool> has_red(image.width, false);
    for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < int(0.95 * image.width); ++x)  // left of any legend sample
            if (image.at(x, y) == Rgb{214, 39, 40}) has_red[x] = true;
    int first = -1, last = -1, longest_gap = 0, gap = 0;
    for (int x = 0; x < image.width; ++x) {
        if (has_red[x]) {
            if (first < 0) first = x;
            last = x;
            longest_gap = std::max(longest_gap, gap);
            gap = 0;
        } else if (first >= 0) {
            ++gap;
        }
    }
    INFO("red from column " << first << " to " << last << ", longest gap " << longest_gap);
    CHECK(last - first > 700);
    CHECK(longest_gap > 120);  // 2 of 10.8 x-units of a ~900-pixel plot, less the round caps

    twp::save_plot_csv(dir.path / "gap.csv", plot);
    const std::string csv = read_text(dir.path / "gap.csv");
    CHECK(csv.rfind("series,x,y\n\"flat, with a gap\",0,1\n", 0) == 0);
    CHECK(csv.find("\"flat, with a gap\",5,") == std::string::npos);
    CHECK(csv.find("\"flat, with a gap\",8,") == std::string::npos);
    CHECK(csv.find("b,1.5,2\n") != std::string::npos);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 9 + 1);
}

TEST_CASE("the CSV holds one row per finite point with exact values", "[plot]") {
    TempDir dir("plot_csv");
    Plot plot = three_series_plot();
    plot.series[0].y[3] = kNaN;
    plot.series[1].x[0] = -kInf;
    twp::save_plot_csv(dir.path / "loss.csv", plot);
    std::istringstream csv(read_text(dir.path / "loss.csv"));
    std::string line;
    std::getline(csv, line);
    CHECK(line == "series,x,y");
    int rows = 0;
    while (std::getline(csv, line)) {
        ++rows;
        if (rows == 2) CHECK(line == "series 1,2,1.5");
        if (rows == 3) CHECK(line == "series 1,3,1");
        if (rows == 4) CHECK(line == "series 1,5,0.6");  // x = 4 was NaN
    }
    CHECK(rows == 3 * 20 - 2);
    // Shortest round-trip text: 4/3 reads back as the same double.
    CHECK(read_text(dir.path / "loss.csv").find("series 2,3,1.3333333333333333\n") != std::string::npos);
}

TEST_CASE("degenerate data gives valid PNGs", "[plot]") {
    TempDir dir("plot_edge");
    const Rgb blue{31, 119, 180};
    struct Case {
        std::string name;
        Plot plot;
    };
    std::vector<Case> cases;
    cases.push_back({"no series", Plot{"nothing", "x", "y", {}, false, 1000, 640}});
    cases.push_back({"empty series", Plot{"empty", "x", "y", {{"none", {}, {}, blue}}, true, 1000, 640}});
    cases.push_back({"one point", Plot{"one", "x", "y", {{"p", {3}, {7}, blue, SeriesStyle::kLine}}, false, 1000, 640}});
    cases.push_back({"one point at zero", Plot{"zero", "", "", {{"p", {0}, {0}, blue}}, false, 1000, 640}});
    cases.push_back({"equal y", Plot{"flat", "x", "y", {{"c", {1, 2, 3}, {5, 5, 5}, blue}}, false, 1000, 640}});
    cases.push_back({"equal y, log", Plot{"flat", "x", "y", {{"c", {1, 2, 3}, {0.01, 0.01, 0.01}, blue}}, true, 1000, 640}});
    cases.push_back({"all NaN", Plot{"nan", "x", "y", {{"n", {kNaN, 1}, {2, kNaN}, blue}}, false, 1000, 640}});
    cases.push_back({"log with zero and negatives",
                     Plot{"log", "step", "MSE", {{"m", {1, 2, 3, 4, 5}, {1, 0, -1, 10, 100}, blue}}, true, 1000, 640}});
    cases.push_back({"log, nothing positive", Plot{"log", "x", "y", {{"m", {1, 2}, {0, -3}, blue}}, true, 1000, 640}});
    cases.push_back({"tiny range", Plot{"tiny", "x", "y", {{"t", {0, 1}, {1, 1 + 1e-13}, blue}}, false, 1000, 640}});
    cases.push_back({"huge values", Plot{"huge", "x", "y", {{"h", {-1e200, 1e200}, {3e15, -2e15}, blue}}, false, 1000, 640}});
    cases.push_back({"small image, long title",
                     Plot{std::string(200, 'W'), "a long x label", "a long y label",
                          {{"a long series name", {0, 1, 2}, {1, 3, 2}, blue}}, false, 240, 180}});
    const char* keep = std::getenv("TWP_PLOT_EXAMPLES_DIR");
    if (keep && *keep) fs::create_directories(keep);
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        INFO(c.name);
        const fs::path path = keep && *keep ? fs::path(keep) / ("edge_" + std::to_string(i) + ".png")
                                            : dir.path / "edge.png";
        REQUIRE_NOTHROW(twp::save_plot_png(path, c.plot));
        const Image image = decode_png(path);
        CHECK(image.width == c.plot.width);
        CHECK(image.height == c.plot.height);
        CHECK(image.dark(0, 0, 1, 1) > 100);  // at least the frame and tick labels
        REQUIRE_NOTHROW(twp::save_plot_csv(dir.path / "edge.csv", c.plot));
    }
}

namespace {

// The x grid lines of a plot whose data lies on y = 0 (the middle of the plot area): the most
// common number of grid-coloured pixels in the rows between 55% and 85% of the height that are
// not horizontal grid lines (which are far wider than any count of vertical ones).
int x_grid_lines(const Image& image) {
    std::map<int, int> rows_with;
    for (int y = int(0.55 * image.height); y < int(0.85 * image.height); ++y) {
        int n = 0;
        for (int x = 0; x < image.width; ++x) n += image.at(x, y) == Rgb{228, 228, 228};
        if (n < image.width / 4) ++rows_with[n];
    }
    int most = -1, lines = -1;
    for (const auto& [n, rows] : rows_with)
        if (rows > most) most = rows, lines = n;
    return lines;
}

}  // namespace

TEST_CASE("integer_x: the renderer puts x grid lines at whole numbers only", "[plot]") {
    TempDir dir("plot_integer_x");
    const auto grid_lines = [&](std::vector<double> x, bool integer_x) {
        Plot plot{"steps", "extrapolation step", "y", {}, false};
        plot.series.push_back({"s", x, std::vector<double>(x.size(), 0.0), twp::palette()[0]});
        plot.integer_x = integer_x;
        twp::save_plot_png(dir.path / "steps.png", plot);
        return x_grid_lines(decode_png(dir.path / "steps.png"));
    };
    CHECK(grid_lines({1, 2, 3}, true) == 3);       // 1, 2, 3
    CHECK(grid_lines({1, 2, 3}, false) == 11);     // 1.0, 1.2, ..., 3.0
    CHECK(grid_lines({1, 2, 3, 4, 5}, true) == 5);
    CHECK(grid_lines({0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}, true) == 2);  // 1, 2
    CHECK(grid_lines({0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}, false) > 2);
    CHECK(grid_lines({1.5}, true) == 2);           // widened to 1..2
    std::vector<double> hundred;
    for (int i = 1; i <= 100; ++i) hundred.push_back(i);
    CHECK(grid_lines(hundred, true) == 11);        // 0, 10, ..., 100
}

TEST_CASE("plot errors name the file or the series and what to do", "[plot]") {
    TempDir dir("plot_errors");
    const Plot plot = three_series_plot();
    const fs::path missing = dir.path / "no_such_dir" / "loss.png";
    CHECK_THROWS_AS(twp::save_plot_png(missing, plot), twp::Error);
    CHECK_THROWS_WITH(twp::save_plot_png(missing, plot),
                      Contains(missing.string()) && Contains("directory exists"));
    CHECK_THROWS_WITH(twp::save_plot_csv(dir.path / "no_such_dir" / "loss.csv", plot),
                      Contains("loss.csv") && Contains("directory exists"));
    CHECK(fs::is_empty(dir.path));  // nothing half-written left behind

    Plot mismatched = plot;
    mismatched.series[1].y.pop_back();
    CHECK_THROWS_WITH(twp::save_plot_png(dir.path / "bad.png", mismatched),
                      Contains("series 2") && Contains("20 x values but 19 y values"));
    CHECK_THROWS_WITH(twp::save_plot_csv(dir.path / "bad.csv", mismatched), Contains("series 2"));

    Plot tiny = plot;
    tiny.width = 100;
    CHECK_THROWS_WITH(twp::save_plot_png(dir.path / "tiny.png", tiny), Contains("240x180"));

    CHECK_THROWS_WITH(twp::find_font_file({"/nonexistent/DejaVuSans.ttf"}),
                      Contains("/nonexistent/DejaVuSans.ttf") && Contains("fonts-dejavu-core"));
    CHECK_THROWS_WITH(twp::Font(dir.path / "missing.ttf"), Contains("fonts-dejavu-core"));
}

TEST_CASE("the five plots twp makes, with plausible data", "[plot]") {
    TempDir temp("plot_kinds");
    const char* keep = std::getenv("TWP_PLOT_EXAMPLES_DIR");
    const fs::path dir = keep && *keep ? fs::path(keep) : temp.path;
    fs::create_directories(dir);
    const auto colors = twp::palette();

    std::vector<std::pair<std::string, Plot>> plots;
    {  // training loss: train and test MSE per epoch over three decades
        Plot plot{"Predictor training loss", "epoch", "MSE (log)", {}, true, 1000, 640};
        Series train{"train MSE", range_values(60, 1), {}, colors[0], SeriesStyle::kLine};
        Series test{"test MSE", range_values(60, 1), {}, colors[1], SeriesStyle::kLine};
        for (double e : train.x) {
            train.y.push_back(0.8 * std::exp(-e / 8) + 2e-4 * (1 + 0.3 * std::sin(e)));
            test.y.push_back(0.9 * std::exp(-e / 9) + 6e-4 + 1e-5 * e);
        }
        plot.series = {train, test};
        plots.push_back({"training_loss", plot});
    }
    {  // weight trajectory: three runs in PCA space
        Plot plot{"Weight trajectories (PCA)", "PC1", "PC2", {}, false, 1000, 640};
        for (int r = 0; r < 3; ++r) {
            Series run{"run " + std::to_string(r + 1), {}, {}, colors[r], SeriesStyle::kLinePoints};
            for (int s = 0; s <= 20; ++s) {
                const double t = s / 20.0;
                run.x.push_back(-12 + 25 * std::sqrt(t) + 1.5 * r);
                run.y.push_back(4 * std::sin(3 * t + r) * (1 - t) + 0.8 * r - 1.2);
            }
            plot.series.push_back(run);
        }
        plots.push_back({"weight_trajectory", plot});
    }
    {  // extrapolation error: MSE per step ahead, predictor against baselines
        Plot plot{"Extrapolation error", "steps ahead", "MSE (log)", {}, true, 1000, 640};
        Series predictor{"transformer", range_values(30, 1), {}, colors[0], SeriesStyle::kLinePoints};
        Series linear{"linear extrapolation", range_values(30, 1), {}, colors[1], SeriesStyle::kDashedLine};
        Series last{"last snapshot", range_values(30, 1), {}, colors[2], SeriesStyle::kDashedLine};
        for (double s : predictor.x) {
            predictor.y.push_back(3e-6 * std::pow(s, 1.6));
            linear.y.push_back(1e-6 * s * s * s);
            last.y.push_back(2e-5 * s);
        }
        plot.series = {predictor, linear, last};
        plots.push_back({"extrapolation_error", plot});
    }
    {  // plug-in accuracy: LeNet-5 test accuracy with predicted weights, per step
        Plot plot{"Plug-in test accuracy", "steps ahead", "accuracy (%)", {}, false, 1000, 640};
        const char* names[] = {"true weights", "transformer", "linear extrapolation", "last snapshot"};
        for (int k = 0; k < 4; ++k) {
            Series series{names[k], range_values(20, 1), {}, colors[k],
                          k == 0 ? SeriesStyle::kLine : SeriesStyle::kLinePoints};
            for (double s : series.x) series.y.push_back(99.1 + 0.005 * s - k * 0.04 * s * (k == 2 ? 2 : 1));
            plot.series.push_back(series);
        }
        plots.push_back({"plugin_accuracy", plot});
    }
    {  // base training: test accuracy and loss along the snapshots of one run
        Plot plot{"Base training (run 1)", "epoch", "", {}, false, 1000, 640};
        Series accuracy{"test accuracy (%) / 100", {}, {}, colors[0], SeriesStyle::kLinePoints};
        Series loss{"test loss", {}, {}, colors[3], SeriesStyle::kLinePoints};
        for (int i = 1; i <= 40; ++i) {
            const double epoch = i / 2.0;
            accuracy.x.push_back(epoch);
            loss.x.push_back(epoch);
            accuracy.y.push_back((99.2 - 2.5 * std::exp(-epoch)) / 100);
            loss.y.push_back(0.03 + 0.08 * std::exp(-epoch / 2));
        }
        plot.series = {accuracy, loss};
        plots.push_back({"base_training", plot});
    }

    for (const auto& [name, plot] : plots) {
        INFO(name);
        twp::save_plot_png(dir / (name + ".png"), plot);
        twp::save_plot_csv(dir / (name + ".csv"), plot);
        const Image image = decode_png(dir / (name + ".png"));
        CHECK(image.width == 1000);
        CHECK(image.height == 640);
        CHECK(image.dark(0.3, 0, 0.7, 0.06) > 150);  // the title
        for (const Series& series : plot.series) {
            INFO(series.name);
            CHECK(image.count(series.color, 0, 0, 1, 1) > 50);
        }
    }
}
