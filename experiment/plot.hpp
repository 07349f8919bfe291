// Line and scatter plots for the results folder, and heat maps for sweeps, as PNG images (plus
// the plotted data as CSV), with no plotting library: experiment/canvas.hpp draws,
// stb_image_write encodes.
// A plot has a title, axis titles, light grid lines at "nice" ticks (steps of 1, 2 or 5 times a
// power of ten; powers of ten on a log axis; whole numbers on an x axis that counts, integer_x),
// compact tick labels (0.5, 1e-4, 12k), a legend where it covers the least data (a corner, the
// upper right on ties, else the middle of a side), and series drawn as anti-aliased 2-pixel lines
// and/or filled circles on a white background (a kLinePoints series whose points are too close
// for separate markers is drawn as a line).
// Data handling: a point whose x or y is NaN or infinite is skipped and breaks the line there; on a
// log y axis, points with y <= 0 are skipped the same way. Empty series, a single point and equal
// values all plot (the range is widened around them). Each series needs as many x as y values.
// Both files are written atomically (engine/atomic_file.hpp); their directory must exist.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "experiment/canvas.hpp"  // Rgb

namespace twp {

enum class SeriesStyle { kLine, kPoints, kLinePoints, kDashedLine };

struct Series {
    std::string name;          // legend entry and CSV `series` column
    std::vector<double> x, y;  // (n), (n): point i is (x[i], y[i])
    Rgb color;
    SeriesStyle style = SeriesStyle::kLinePoints;
    // An interval around y (e.g. 95% over seeds): empty, or one low and one high per x. Drawn as
    // a translucent band of the series' colour under every line; its ends count in the y range.
    std::vector<double> low{}, high{};
};

struct Plot {
    std::string title, x_label, y_label;
    std::vector<Series> series;  // drawn in order; later series on top
    bool log_y = false;          // e.g. MSE per step spans decades
    int width = 1000, height = 640;  // pixels; at least 240 x 180
    // The x axis counts steps or epochs: ticks at whole numbers only (integer_ticks), labelled
    // without decimals (format_integer_tick), never a step below 1; a range holding no whole
    // number is widened to the whole numbers around it. Last, so that positional initializers
    // written before it keep their meaning.
    bool integer_x = false;
};

// Renders `plot` and writes it to `path` as a PNG. Throws twp::Error naming the path (missing
// directory, unwritable) or the series (x and y sizes differ), or when no font can be found.
void save_plot_png(const std::filesystem::path& path, const Plot& plot);

// Writes the plotted data to `path` as CSV: header "series,x,y" (",low,high" too when a series
// has a band), then one row per point with finite x and y, series in order; numbers in the
// shortest form that reads back exactly.
void save_plot_csv(const std::filesystem::path& path, const Plot& plot);

// Ten colors that stay distinguishable (matplotlib's tab10: blue, orange, green, red, purple, brown,
// pink, grey, olive, cyan).
std::vector<Rgb> palette();

// A heat map of positive values (ratios) on a grid: columns along x, rows up y, each cell filled
// on a diverging scale centred at 1 in log space (white at 1, blue below, red above, fully
// saturated at the largest |log10| among the cells, at least a factor of 2) and labelled with its
// value (3 significant digits) and its note; a colour bar with ticks on the right. A cell whose
// value is NaN or not positive is grey and shows its note only. Same fonts, margins and scaling
// with the image size as the plots.
struct HeatMap {
    std::string title, x_label, y_label, scale_label;
    std::vector<std::string> columns;  // (nx) x tick labels, left to right
    std::vector<std::string> rows;     // (ny) y tick labels, bottom to top
    std::vector<double> values;        // (ny, nx): values[r * nx + c] is column c of row r
    std::vector<std::string> notes;    // (ny, nx) a second line under the value, or empty
    int width = 1000, height = 640;    // pixels; at least 240 x 180
};

// The heat map's colour of `value` when the scale spans 10^-decades .. 10^decades (decades > 0).
Rgb diverging_color(double value, double decades);
// The half-width of `map`'s scale in decades: max |log10 value|, at least log10(2).
double heat_map_decades(const HeatMap& map);
// Where the cell of column c, row r is drawn (its coloured rectangle), in pixels.
RectF heat_map_cell(const HeatMap& map, int column, int row);

// Writes the heat map as PNG; throws twp::Error naming the path, or the map when its sizes
// disagree (values and notes must hold rows x columns entries, at least one of each).
void save_heat_map_png(const std::filesystem::path& path, const HeatMap& map);
// Writes it as CSV: header "x,y,value,note", one row per cell, bottom row first; NaN as empty.
void save_heat_map_csv(const std::filesystem::path& path, const HeatMap& map);

// ---- axis helpers, exposed for the tests ----

// Ticks at multiples of the smallest step of 1, 2 or 5 times a power of ten that puts at most
// `max_count` (>= 2) ticks in [lo, hi] (lo < hi, both finite). Values within a step's 1e-9 of zero
// are exactly zero.
std::vector<double> linear_ticks(double lo, double hi, int max_count);

// The ticks of an axis that counts (steps, epochs): as linear_ticks, but the step is 1, 2 or 5
// times a power of ten of at least 1, so every tick is a whole number: [1, 3] gives 1, 2, 3 and
// [0.25, 2] gives 1, 2. Empty when no whole number lies in [lo, hi]. Same preconditions.
std::vector<double> integer_ticks(double lo, double hi, int max_count);

// Ticks for a log axis over [lo, hi] (0 < lo < hi): powers of ten (every k-th one when there are
// more than `max_count`); over less than about two decades also 2 and 5 times them; and over too
// narrow a range for that, linear_ticks.
std::vector<double> log_ticks(double lo, double hi, int max_count);

// A tick label on a linear axis whose ticks are `step` apart and reach `magnitude` (the largest
// |tick|): the decimals the step needs, the same on every tick of the axis ("0.5", "1.0"),
// thousands and millions as "12k", "12.5k", "1.5M", very small or very large values as "1e-4",
// "2.5e-5", "3e12"; zero is "0".
std::string format_tick(double value, double step, double magnitude);

// A tick label on an integer axis (integer_ticks): format_tick's label when it has no decimals
// ("12", "12k"), else the whole number in full ("10001", where format_tick says "10.001k").
std::string format_integer_tick(double value, double step, double magnitude);

// One value with at most three significant digits in the same compact style (log-axis labels).
std::string format_compact(double value);

}  // namespace twp
