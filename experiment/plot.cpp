// Plot rendering: ranges and ticks, layout, series, legend; see plot.hpp.
// Layout, top to bottom: title band, plot area (framed, grid), x tick labels, x-axis title; left to
// right: the y-axis title (rotated), y tick labels, plot area. Sizes are in pixels at the default
// 1000 x 640 and scale with the image (between 0.75x and 2.5x), so a larger figure keeps its
// proportions. The vertical layout is settled first because the y ticks depend only on the plot
// height; their labels' width then fixes the left margin and so the plot width the x ticks need.
#include "experiment/plot.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"

namespace twp {
namespace {

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kTextColor{34, 34, 34};
constexpr Rgb kFrameColor{68, 68, 68};
constexpr Rgb kGridColor{228, 228, 228};
constexpr Rgb kLegendBorder{200, 200, 200};

// 10^e as the double nearest the exact decimal (1e-3 * 3 would not be 0.003 exactly; 3 / 1e3 is).
double power_of_ten(int e) {
    if (e < 0) return 1.0 / power_of_ten(-e);
    if (e > 22) return std::pow(10.0, e);
    double value = 1;
    for (int i = 0; i < e; ++i) value *= 10;  // exact up to 1e22
    return value;
}

// mantissa * 10^e, rounded once.
double scaled(double mantissa, int e) {
    return e < 0 ? mantissa / power_of_ten(-e) : mantissa * power_of_ten(e);
}

int floor_log10(double positive) { return int(std::floor(std::log10(positive) + 1e-9)); }

// Fixed-point text with trailing zeros (and a bare point) removed.
std::string trimmed_fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", std::clamp(decimals, 0, 15), value);
    std::string s = text;
    if (s.find('.') != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    return s == "-0" ? "0" : s;
}

// "2.5e-5": `decimals` mantissa digits at most, trailing zeros removed.
std::string scientific(double value, int decimals) {
    int exponent = floor_log10(std::abs(value));
    double mantissa = value / scaled(1, exponent);
    std::string text = trimmed_fixed(mantissa, decimals);
    if (std::abs(std::stod(text)) >= 10) {  // 9.996 rounded up to 10
        ++exponent;
        text = trimmed_fixed(value / scaled(1, exponent), decimals);
    }
    return text + "e" + std::to_string(exponent);
}

// Fixed-point text with exactly `decimals` decimals (ticks on one axis share them: 0.5, 1.0, 1.5).
std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", std::clamp(decimals, 0, 15), value);
    const std::string s = text;
    return s.find_first_not_of("-0.") == std::string::npos ? "0" : s;  // no "-0.0"
}

std::string shortest(double value) {
    char text[32];
    const auto result = std::to_chars(text, text + sizeof text, value);
    return std::string(text, result.ptr);
}

// ---- data ranges ----

struct Range {
    double lo = 0, hi = 1;  // on a log axis, still data values (both > 0)
};

bool usable(double x, double y, bool log_y) {
    return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// Widens a degenerate range around its value, then pads it by `pad` of its width on each side.
Range padded(double lo, double hi, double pad) {
    const double magnitude = std::max(std::abs(lo), std::abs(hi));
    if (hi - lo <= 1e-12 * magnitude || hi - lo <= std::numeric_limits<double>::min()) {
        const double half = magnitude > 0 ? 0.1 * magnitude : 1.0;
        lo -= half;
        hi += half;
    }
    const double width = hi - lo;
    return {lo - pad * width, hi + pad * width};
}

// ---- layout and drawing ----

struct Fonts {
    double title, label, tick;  // pixel heights (ascent + descent)
};

// `text` at `pixel_height`, shrunk if needed to fit `max_width` (long titles on small images).
TextMask fitted_text(const std::string& text, double pixel_height, double max_width) {
    const Font& font = default_font();
    const double width = font.text_width(text, pixel_height);
    if (width > max_width && max_width > 0)
        pixel_height = std::max(8.0, pixel_height * max_width / width);
    return font.render(text, pixel_height);
}

// Maps data coordinates to canvas pixels inside the plot frame.
struct Mapping {
    RectF area;  // the plot area inside the frame, pixels
    Range x, y;
    bool log_y = false;

    double px(double value) const { return area.x0 + (value - x.lo) / (x.hi - x.lo) * area.width(); }
    double py(double value) const {
        const double t = log_y ? (std::log10(value) - std::log10(y.lo)) /
                                     (std::log10(y.hi) - std::log10(y.lo))
                               : (value - y.lo) / (y.hi - y.lo);
        return area.y1 - t * area.height();
    }
};

// Runs of consecutive usable points, in pixels: each run is one unbroken piece of line.
std::vector<std::vector<PointF>> pixel_runs(const Series& series, const Mapping& map) {
    std::vector<std::vector<PointF>> runs(1);
    for (size_t i = 0; i < series.x.size(); ++i) {
        if (usable(series.x[i], series.y[i], map.log_y)) {
            runs.back().push_back({map.px(series.x[i]), map.py(series.y[i])});
        } else if (!runs.back().empty()) {
            runs.emplace_back();
        }
    }
    if (runs.back().empty()) runs.pop_back();
    return runs;
}

bool has_line(SeriesStyle style) { return style != SeriesStyle::kPoints; }
bool has_markers(SeriesStyle style) {
    return style == SeriesStyle::kPoints || style == SeriesStyle::kLinePoints;
}

// Pixel sizes of the marks, at scale `s`.
struct Marks {
    double line_width, marker_radius, dash_on, dash_off;
};

// A white rim around each marker keeps overlapping points and crossing series apart.
void draw_marker(Canvas& canvas, PointF p, Rgb color, const Marks& marks) {
    canvas.fill_circle(p, marks.marker_radius + marks.line_width * 0.6, kWhite);
    canvas.fill_circle(p, marks.marker_radius, color);
}

// Line-and-points series whose points lie closer than about a marker's width apart are drawn as
// plain lines: touching markers hide the line's shape (300 steps across a 900-pixel plot).
SeriesStyle drawn_style(const Series& series, const Mapping& map, const Marks& marks) {
    if (series.style != SeriesStyle::kLinePoints) return series.style;
    double length = 0;
    int segments = 0;
    for (const std::vector<PointF>& run : pixel_runs(series, map))
        for (size_t i = 1; i < run.size(); ++i, ++segments)
            length += std::hypot(run[i].x - run[i - 1].x, run[i].y - run[i - 1].y);
    return segments > 0 && length / segments < 2.5 * marks.marker_radius ? SeriesStyle::kLine
                                                                         : series.style;
}

// The band between low and high, column by column between consecutive usable x.
void draw_band(Canvas& canvas, const Series& series, const Mapping& map) {
    if (series.low.empty()) return;
    const auto usable_at = [&](size_t i) {
        return usable(series.x[i], series.low[i], map.log_y) && usable(series.x[i], series.high[i], map.log_y);
    };
    for (size_t i = 0; i + 1 < series.x.size(); ++i) {
        if (!usable_at(i) || !usable_at(i + 1)) continue;
        const double x0 = map.px(series.x[i]), x1 = map.px(series.x[i + 1]);
        const double lo0 = map.py(series.low[i]), lo1 = map.py(series.low[i + 1]);
        const double hi0 = map.py(series.high[i]), hi1 = map.py(series.high[i + 1]);
        for (int x = int(std::ceil(std::min(x0, x1))); x <= int(std::floor(std::max(x0, x1))); ++x) {
            const double t = x1 == x0 ? 0 : (x - x0) / (x1 - x0);
            const double a = lo0 + t * (lo1 - lo0), b = hi0 + t * (hi1 - hi0);
            canvas.fill_rect({double(x), std::min(a, b), double(x + 1), std::max(a, b)}, series.color, 0.18);
        }
    }
}

void draw_series(Canvas& canvas, const Series& series, const Mapping& map, const Marks& marks) {
    for (const std::vector<PointF>& run : pixel_runs(series, map)) {
        if (has_line(series.style)) {
            const bool dashed = series.style == SeriesStyle::kDashedLine;
            if (run.size() == 1 && !has_markers(series.style)) {
                // An isolated point of a line-only series would otherwise be invisible.
                canvas.fill_circle(run[0], marks.line_width, series.color);
            } else {
                canvas.polyline(run, series.color, marks.line_width, dashed ? marks.dash_on : 0,
                                dashed ? marks.dash_off : 0);
            }
        }
        if (has_markers(series.style))
            for (const PointF& p : run) draw_marker(canvas, p, series.color, marks);
    }
}

// How much of the data lies under `box`: points, plus samples every few pixels along the lines.
int data_under(const RectF& box, const std::vector<std::vector<std::vector<PointF>>>& all_runs) {
    int count = 0;
    for (const auto& runs : all_runs)
        for (const auto& run : runs)
            for (size_t i = 0; i < run.size(); ++i) {
                count += box.contains(run[i]) ? 4 : 0;
                if (i == 0) continue;
                const PointF a = run[i - 1], b = run[i];
                const int samples = std::min(200, int(std::hypot(b.x - a.x, b.y - a.y) / 4));
                for (int k = 1; k < samples; ++k) {
                    const double t = double(k) / samples;
                    count += box.contains({a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)}) ? 1 : 0;
                }
            }
    return count;
}

void draw_legend(Canvas& canvas, const Plot& plot, const Mapping& map, const Marks& marks,
                 double font_px, double s) {
    std::vector<const Series*> entries;
    for (const Series& series : plot.series)
        if (!series.name.empty()) entries.push_back(&series);
    if (entries.empty()) return;

    std::vector<TextMask> names;
    int name_width = 0;
    for (const Series* series : entries) {
        names.push_back(default_font().render(series->name, font_px));
        name_width = std::max(name_width, names.back().width);
    }
    const double inner = 8 * s, sample_length = 34 * s, gap = 8 * s, margin = 10 * s;
    const double row_height = names[0].height + 4 * s;
    const double box_width = std::round(inner + sample_length + gap + name_width + inner);
    const double box_height = std::round(2 * inner + row_height * names.size() - 4 * s);

    // The first place, in order of preference, that covers the least data: the four corners
    // (upper right first), then the middles of the right and left sides, top, bottom and centre.
    const RectF& a = map.area;
    const double left = a.x0 + margin, right = a.x1 - margin - box_width;
    const double top = a.y0 + margin, bottom = a.y1 - margin - box_height;
    const double middle_x = (a.x0 + a.x1 - box_width) / 2, middle_y = (a.y0 + a.y1 - box_height) / 2;
    const std::array<PointF, 9> places = {{{right, top}, {left, top}, {right, bottom}, {left, bottom},
                                            {right, middle_y}, {left, middle_y}, {middle_x, top},
                                            {middle_x, bottom}, {middle_x, middle_y}}};
    std::vector<std::vector<std::vector<PointF>>> all_runs;
    for (const Series& series : plot.series) all_runs.push_back(pixel_runs(series, map));
    std::optional<RectF> best;
    int best_count = 0;
    for (const PointF& place : places) {
        const RectF box{std::round(place.x), std::round(place.y), std::round(place.x) + box_width,
                        std::round(place.y) + box_height};
        const int count = data_under(box, all_runs);
        if (!best || count < best_count) {
            best = box;
            best_count = count;
        }
    }
    const RectF box = *best;

    canvas.fill_rect(box, kWhite, 0.9);
    const int bx0 = int(box.x0), by0 = int(box.y0), bx1 = int(box.x1) - 1, by1 = int(box.y1) - 1;
    canvas.hline(bx0, bx1, by0, kLegendBorder);
    canvas.hline(bx0, bx1, by1, kLegendBorder);
    canvas.vline(bx0, by0, by1, kLegendBorder);
    canvas.vline(bx1, by0, by1, kLegendBorder);

    for (size_t i = 0; i < entries.size(); ++i) {
        const Series& series = *entries[i];
        const double centre_y = box.y0 + inner + row_height * i + names[i].height / 2.0;
        const double x0 = box.x0 + inner, x1 = x0 + sample_length;
        if (has_line(series.style)) {
            const bool dashed = series.style == SeriesStyle::kDashedLine;
            canvas.polyline({{x0, centre_y}, {x1, centre_y}}, series.color, marks.line_width,
                            dashed ? marks.dash_on : 0, dashed ? marks.dash_off : 0);
        }
        if (has_markers(series.style)) draw_marker(canvas, {(x0 + x1) / 2, centre_y}, series.color, marks);
        canvas.draw_text(names[i], x1 + gap, centre_y, HAlign::kLeft, VAlign::kCenter, kTextColor);
    }
}

Canvas render_plot(const Plot& plot) {
    TWP_CHECK(plot.width >= 240 && plot.height >= 180 && plot.width <= 10000 && plot.height <= 10000,
              "plot '" << plot.title << "' is " << plot.width << "x" << plot.height
                       << " pixels; use 240x180 to 10000x10000");
    for (const Series& series : plot.series) {
        TWP_CHECK(series.x.size() == series.y.size(),
                  "plot '" << plot.title << "': series '" << series.name << "' has " << series.x.size()
                           << " x values but " << series.y.size() << " y values; give one y per x");
        TWP_CHECK(series.low.empty() || (series.low.size() == series.x.size() && series.high.size() == series.x.size()),
                  "plot '" << plot.title << "': series '" << series.name << "' has a band of " << series.low.size()
                           << " low and " << series.high.size() << " high values for " << series.x.size()
                           << " points; give one of each per x, or none");
    }

    const double s = std::clamp(std::min(plot.width / 1000.0, plot.height / 640.0), 0.75, 2.5);
    const Fonts fonts{25 * s, 18 * s, 16.5 * s};
    const Marks marks{2.0 * s, 3.5 * s, 7 * s, 4 * s};
    const double pad = 12 * s, tick_length = 5 * s;

    // Data ranges over the points that will be drawn.
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
    for (const Series& series : plot.series)
        for (size_t i = 0; i < series.x.size(); ++i) {
            if (!usable(series.x[i], series.y[i], plot.log_y)) continue;
            const double y = plot.log_y ? std::log10(series.y[i]) : series.y[i];
            x_lo = std::min(x_lo, series.x[i]);
            x_hi = std::max(x_hi, series.x[i]);
            y_lo = std::min(y_lo, y);
            y_hi = std::max(y_hi, y);
            if (series.low.empty()) continue;
            for (const double edge : {series.low[i], series.high[i]})
                if (usable(series.x[i], edge, plot.log_y)) {
                    const double e = plot.log_y ? std::log10(edge) : edge;
                    y_lo = std::min(y_lo, e);
                    y_hi = std::max(y_hi, e);
                }
        }
    Mapping map;
    map.log_y = plot.log_y;
    if (x_lo > x_hi) {  // nothing to draw: an empty frame over a unit range
        map.x = {0, 1};
        map.y = plot.log_y ? Range{1, 10} : Range{0, 1};
    } else {
        map.x = padded(x_lo, x_hi, 0.04);
        // A counting axis shows at least one whole number: 1.2..1.8 is drawn over 1..2.
        if (plot.integer_x && std::ceil(map.x.lo) > std::floor(map.x.hi))
            map.x = padded(std::floor(map.x.lo), std::ceil(map.x.hi), 0.04);
        if (plot.log_y) {
            // Pad in decades; a single value gets half a decade either side.
            Range decades = y_hi - y_lo < 1e-9 ? Range{y_lo - 0.5, y_hi + 0.5} : Range{y_lo, y_hi};
            decades = padded(decades.lo, decades.hi, 0.05);
            map.y = {std::pow(10.0, decades.lo), std::pow(10.0, decades.hi)};
        } else {
            map.y = padded(y_lo, y_hi, 0.05);
        }
    }
    TWP_CHECK(std::isfinite(map.x.hi - map.x.lo) && std::isfinite(map.y.hi - map.y.lo) &&
                  map.y.hi > map.y.lo && map.x.hi > map.x.lo,
              "plot '" << plot.title << "': the data spans more than a double can hold; rescale it");

    const Font& font = default_font();
    const double W = plot.width, H = plot.height;
    const TextMask title = fitted_text(plot.title, fonts.title, W - 2 * pad);
    const TextMask x_title = fitted_text(plot.x_label, fonts.label, W - 2 * pad);
    const TextMask y_title = fitted_text(plot.y_label, fonts.label, H - 2 * pad);
    const int tick_text_height = font.render("0", fonts.tick).height;

    // Vertical layout, then the y ticks it allows.
    const double top = std::round(plot.title.empty() ? pad + tick_text_height / 2.0
                                                     : pad + title.height + pad * 0.8);
    const double bottom = std::round(tick_length + 4 * s + tick_text_height +
                                     (plot.x_label.empty() ? 0 : 6 * s + x_title.height) + pad);
    map.area.y0 = top;
    map.area.y1 = H - bottom;
    const int y_max_ticks = std::max(2, int(map.area.height() / (tick_text_height * 2.4)));
    const std::vector<double> y_ticks = plot.log_y ? log_ticks(map.y.lo, map.y.hi, y_max_ticks)
                                                   : linear_ticks(map.y.lo, map.y.hi, y_max_ticks);
    double y_magnitude = 0;
    for (double t : y_ticks) y_magnitude = std::max(y_magnitude, std::abs(t));
    const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
    std::vector<TextMask> y_tick_text;
    int y_tick_width = 0;
    for (double t : y_ticks) {
        y_tick_text.push_back(font.render(
            plot.log_y ? format_compact(t) : format_tick(t, y_step, y_magnitude), fonts.tick));
        y_tick_width = std::max(y_tick_width, y_tick_text.back().width);
    }

    // Horizontal layout, then as many x ticks as fit without their labels touching.
    map.area.x0 = std::round(pad + (plot.y_label.empty() ? 0 : y_title.height + 8 * s) + y_tick_width +
                             5 * s + tick_length);
    map.area.x1 = W - std::round(28 * s);
    std::vector<double> x_ticks;
    std::vector<TextMask> x_tick_text;
    for (int max_ticks = std::max(2, int(map.area.width() / (70 * s))); max_ticks >= 2; --max_ticks) {
        x_ticks = plot.integer_x ? integer_ticks(map.x.lo, map.x.hi, max_ticks)
                                 : linear_ticks(map.x.lo, map.x.hi, max_ticks);
        double magnitude = 0;
        for (double t : x_ticks) magnitude = std::max(magnitude, std::abs(t));
        const double step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
        x_tick_text.clear();
        int widest = 0;
        for (double t : x_ticks) {
            x_tick_text.push_back(font.render(plot.integer_x ? format_integer_tick(t, step, magnitude)
                                                             : format_tick(t, step, magnitude),
                                              fonts.tick));
            widest = std::max(widest, x_tick_text.back().width);
        }
        const double spacing = step / (map.x.hi - map.x.lo) * map.area.width();
        if (x_ticks.size() < 2 || spacing >= widest + 18 * s) break;
    }

    Canvas canvas(plot.width, plot.height, kWhite);
    const RectF& area = map.area;
    const int ax0 = int(area.x0), ax1 = int(area.x1), ay0 = int(area.y0), ay1 = int(area.y1);
    // Tick positions snap to whole pixels so that grid lines and tick marks are crisp.
    auto column = [&](double x) { return int(std::floor(map.px(x))); };
    auto row = [&](double y) { return int(std::floor(map.py(y))); };

    for (double t : x_ticks) canvas.vline(column(t), ay0 + 1, ay1 - 1, kGridColor);
    for (double t : y_ticks) canvas.hline(ax0 + 1, ax1 - 1, row(t), kGridColor);

    Plot drawn = plot;  // with the styles as drawn, for the series and their legend samples
    for (Series& series : drawn.series) series.style = drawn_style(series, map, marks);
    canvas.set_clip({area.x0 + 1, area.y0 + 1, area.x1, area.y1});
    for (const Series& series : drawn.series) draw_band(canvas, series, map);
    for (const Series& series : drawn.series) draw_series(canvas, series, map, marks);
    canvas.reset_clip();

    // Frame, ticks and their labels.
    canvas.hline(ax0, ax1, ay0, kFrameColor);
    canvas.hline(ax0, ax1, ay1, kFrameColor);
    canvas.vline(ax0, ay0, ay1, kFrameColor);
    canvas.vline(ax1, ay0, ay1, kFrameColor);
    const int tick = int(std::round(tick_length));
    for (size_t i = 0; i < x_ticks.size(); ++i) {
        const int x = column(x_ticks[i]);
        canvas.vline(x, ay1, ay1 + tick, kFrameColor);
        // Centred under its tick, but kept inside the image (a wide label on the last tick).
        const double centre = std::min(x + 0.5, W - 2 - x_tick_text[i].width / 2.0);
        canvas.draw_text(x_tick_text[i], centre, ay1 + tick + 4 * s, HAlign::kCenter, VAlign::kTop,
                         kTextColor);
    }
    for (size_t i = 0; i < y_ticks.size(); ++i) {
        const int y = row(y_ticks[i]);
        canvas.hline(ax0 - tick, ax0, y, kFrameColor);
        canvas.draw_text(y_tick_text[i], ax0 - tick - 5 * s, y + 0.5, HAlign::kRight, VAlign::kCenter,
                         kTextColor);
    }
    if (plot.log_y && y_ticks.size() >= 2 && std::abs(y_ticks[1] / y_ticks[0] - 10) < 1e-6) {
        // Minor ticks at 2..9 times each power of ten when every decade has a major tick.
        const int half_tick = int(std::round(tick_length * 0.6));
        for (int e = floor_log10(map.y.lo); e <= floor_log10(map.y.hi); ++e)
            for (int m = 2; m <= 9; ++m) {
                const double value = scaled(m, e);
                if (value > map.y.lo && value < map.y.hi)
                    canvas.hline(ax0 - half_tick, ax0, row(value), kFrameColor);
            }
    }

    // Titles.
    if (!plot.title.empty())
        canvas.draw_text(title, (area.x0 + area.x1) / 2, pad, HAlign::kCenter, VAlign::kTop, kTextColor);
    if (!plot.x_label.empty())
        canvas.draw_text(x_title, (area.x0 + area.x1) / 2, H - pad, HAlign::kCenter, VAlign::kBottom,
                         kTextColor);
    if (!plot.y_label.empty())
        canvas.draw_text(y_title, pad, (area.y0 + area.y1) / 2, HAlign::kLeft, VAlign::kCenter,
                         kTextColor, /*rotated=*/true);

    draw_legend(canvas, drawn, map, marks, fonts.tick, s);
    return canvas;
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

// Multiples of the smallest step of 1, 2 or 5 times 10^e, e >= min_exponent, that puts at most
// max_count ticks in [lo, hi]; `what` names the caller in the error.
std::vector<double> stepped_ticks(double lo, double hi, int max_count, int min_exponent, const char* what) {
    TWP_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi && std::isfinite(hi - lo) &&
                  max_count >= 2,
              what << ": need finite lo < hi and max_count >= 2, got [" << lo << ", " << hi << "], "
                   << max_count);
    // Start one decade below the step that would give max_count ticks and walk up 1, 2, 5, 10...
    int exponent = std::max(min_exponent, floor_log10((hi - lo) / max_count) - 1);
    int mantissa_index = 0;
    constexpr int kMantissas[] = {1, 2, 5};
    for (;;) {
        const double step = scaled(kMantissas[mantissa_index], exponent);
        const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
        if (last - first + 1 <= max_count) {
            std::vector<double> ticks;
            for (double k = first; k <= last; ++k) {
                const double value = scaled(k * kMantissas[mantissa_index], exponent);
                ticks.push_back(std::abs(value) < step * 1e-9 ? 0.0 : value);
            }
            return ticks;
        }
        if (++mantissa_index == 3) {
            mantissa_index = 0;
            ++exponent;
        }
    }
}

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int max_count) {
    return stepped_ticks(lo, hi, max_count, std::numeric_limits<int>::min(), "linear_ticks");
}

std::vector<double> integer_ticks(double lo, double hi, int max_count) {
    return stepped_ticks(lo, hi, max_count, 0, "integer_ticks");
}

std::vector<double> log_ticks(double lo, double hi, int max_count) {
    TWP_CHECK(std::isfinite(lo) && std::isfinite(hi) && 0 < lo && lo < hi && max_count >= 2,
              "log_ticks: need finite 0 < lo < hi and max_count >= 2, got [" << lo << ", " << hi
                                                                             << "], " << max_count);
    const int e_lo = int(std::ceil(std::log10(lo) - 1e-9)), e_hi = floor_log10(hi);
    auto inside = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
    std::vector<double> ticks;
    if (std::log10(hi / lo) >= 2) {
        const int decades = e_hi - e_lo + 1;
        const int stride = (decades + max_count - 1) / max_count;  // every stride-th power of ten
        for (int e = e_lo; e <= e_hi; ++e)
            if (e % stride == 0) ticks.push_back(scaled(1, e));
        return ticks;
    }
    for (int e = e_lo - 1; e <= e_hi; ++e)
        for (int m : {1, 2, 5})
            if (inside(scaled(m, e))) ticks.push_back(scaled(m, e));
    if (ticks.size() >= 3 && int(ticks.size()) <= max_count) return ticks;
    return linear_ticks(lo, hi, max_count);  // too narrow for 1-2-5 ticks to say much
}

std::string format_tick(double value, double step, double magnitude) {
    if (!std::isfinite(value)) return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
    if (std::abs(value) <= std::abs(step) * 1e-9 || value == 0) return "0";
    const int step_exponent = step > 0 ? floor_log10(step) : 0;
    if (magnitude >= 1e10 || magnitude < 1e-3)
        return scientific(value, std::clamp(floor_log10(std::abs(value)) - step_exponent, 0, 6));
    if (magnitude >= 1e6) return fixed(value / 1e6, 6 - step_exponent) + "M";
    if (magnitude >= 1e4) return fixed(value / 1e3, 3 - step_exponent) + "k";
    return fixed(value, -step_exponent);
}

std::string format_integer_tick(double value, double step, double magnitude) {
    const std::string text = format_tick(value, step, magnitude);
    return text.find('.') == std::string::npos ? text : fixed(value, 0);
}

std::string format_compact(double value) {
    if (!std::isfinite(value)) return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
    if (value == 0) return "0";
    const double magnitude = std::abs(value);
    if (magnitude >= 1e10 || magnitude < 1e-3) return scientific(value, 2);
    // Three significant digits: decimals = 2 - (digits before the point - 1).
    if (magnitude >= 1e6) return trimmed_fixed(value / 1e6, 2 - floor_log10(magnitude / 1e6)) + "M";
    if (magnitude >= 1e4) return trimmed_fixed(value / 1e3, 2 - floor_log10(magnitude / 1e3)) + "k";
    return trimmed_fixed(value, 2 - floor_log10(magnitude));
}

std::vector<Rgb> palette() {
    return {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
}

void save_plot_png(const std::filesystem::path& path, const Plot& plot) {
    write_file_atomically(path, render_plot(plot).encode_png());
}

void save_plot_csv(const std::filesystem::path& path, const Plot& plot) {
    const auto finite_text = [](double v) { return std::isfinite(v) ? shortest(v) : std::string(); };
    const bool bands = std::any_of(plot.series.begin(), plot.series.end(), [](const Series& s) { return !s.low.empty(); });
    std::string text = bands ? "series,x,y,low,high\n" : "series,x,y\n";
    for (const Series& series : plot.series) {
        TWP_CHECK(series.x.size() == series.y.size(),
                  "plot '" << plot.title << "': series '" << series.name << "' has " << series.x.size()
                           << " x values but " << series.y.size() << " y values; give one y per x"
                           << " (writing " << path.string() << ")");
        const std::string name = csv_field(series.name);
        for (size_t i = 0; i < series.x.size(); ++i)
            if (std::isfinite(series.x[i]) && std::isfinite(series.y[i]))
                text += name + "," + shortest(series.x[i]) + "," + shortest(series.y[i]) +
                        (!bands ? "" : series.low.empty() ? ",," : "," + finite_text(series.low[i]) + "," + finite_text(series.high[i])) +
                        "\n";
    }
    write_file_atomically(path, text);
}


// ---- heat maps ----

namespace {

constexpr Rgb kScaleCentre{247, 247, 247};  // ColorBrewer RdBu: white at 1,
constexpr Rgb kScaleLow{33, 102, 172};      // blue below (better than the reference value),
constexpr Rgb kScaleHigh{178, 24, 43};      // red above
constexpr Rgb kNoValue{204, 204, 204};

// Where everything of a heat map goes; computed once, for the drawing and for heat_map_cell.
struct HeatLayout {
    double s = 1, pad = 12;
    Fonts fonts{25, 18, 16.5};
    RectF grid, bar;
    double cell_width = 0, cell_height = 0;
    double decades = 1;
    std::vector<double> ticks;  // on the colour bar, values
};

void check_heat_map(const HeatMap& map) {
    const size_t cells = map.rows.size() * map.columns.size();
    TWP_CHECK(map.width >= 240 && map.height >= 180 && map.width <= 10000 && map.height <= 10000,
              "heat map '" << map.title << "' is " << map.width << "x" << map.height
                           << " pixels; use 240x180 to 10000x10000");
    TWP_CHECK(cells > 0 && map.values.size() == cells && (map.notes.empty() || map.notes.size() == cells),
              "heat map '" << map.title << "': " << map.columns.size() << " columns x " << map.rows.size()
                           << " rows need as many values (" << map.values.size() << " given) and notes ("
                           << map.notes.size() << " given), at least one");
}

bool has_value(double value) { return std::isfinite(value) && value > 0; }

HeatLayout layout_heat_map(const HeatMap& map) {
    check_heat_map(map);
    HeatLayout l;
    l.s = std::clamp(std::min(map.width / 1000.0, map.height / 640.0), 0.75, 2.5);
    const double s = l.s;
    l.fonts = {25 * s, 18 * s, 16.5 * s};
    l.pad = 12 * s;
    l.decades = heat_map_decades(map);
    const Font& font = default_font();
    const double W = map.width, H = map.height, pad = l.pad;
    const int tick_text_height = font.render("0", l.fonts.tick).height;
    const double title_height = map.title.empty() ? 0 : fitted_text(map.title, l.fonts.title, W - 2 * pad).height;
    const double x_title_height = map.x_label.empty() ? 0 : font.render(map.x_label, l.fonts.label).height;
    const double y_title_height = map.y_label.empty() ? 0 : font.render(map.y_label, l.fonts.label).height;
    const double scale_height = map.scale_label.empty() ? 0 : font.render(map.scale_label, l.fonts.label).height;

    l.grid.y0 = std::round(map.title.empty() ? pad : pad + title_height + pad * 0.8);
    l.grid.y1 = H - std::round(6 * s + tick_text_height + (map.x_label.empty() ? 0 : 6 * s + x_title_height) + pad);
    const double range = std::pow(10.0, l.decades);
    l.ticks = log_ticks(1 / range, range, std::max(2, int(l.grid.height() / (tick_text_height * 2.4))));
    double tick_width = 0;
    for (double t : l.ticks) tick_width = std::max(tick_width, font.text_width(format_compact(t), l.fonts.tick));
    double row_width = 0;
    for (const std::string& r : map.rows) row_width = std::max(row_width, font.text_width(r, l.fonts.tick));

    l.grid.x0 = std::round(pad + (map.y_label.empty() ? 0 : y_title_height + 8 * s) + row_width + 8 * s);
    const double bar_width = std::round(22 * s);
    const double right = std::round(24 * s + bar_width + 5 * s + 5 * s + tick_width +
                                    (map.scale_label.empty() ? 0 : 8 * s + scale_height) + pad);
    l.grid.x1 = W - right;
    TWP_CHECK(l.grid.width() >= map.columns.size() * 2.0 && l.grid.height() >= map.rows.size() * 2.0,
              "heat map '" << map.title << "': " << map.columns.size() << "x" << map.rows.size()
                           << " cells do not fit in " << map.width << "x" << map.height << " pixels");
    l.cell_width = l.grid.width() / double(map.columns.size());
    l.cell_height = l.grid.height() / double(map.rows.size());
    l.bar = {l.grid.x1 + std::round(24 * s), l.grid.y0, l.grid.x1 + std::round(24 * s) + bar_width, l.grid.y1};
    return l;
}

// Column c, row r (row 0 at the bottom), on whole pixels, one pixel of white between cells.
RectF cell_rect(const HeatLayout& l, int column, int row) {
    const double x0 = std::round(l.grid.x0 + column * l.cell_width);
    const double x1 = std::round(l.grid.x0 + (column + 1) * l.cell_width);
    const double y1 = std::round(l.grid.y1 - row * l.cell_height);
    const double y0 = std::round(l.grid.y1 - (row + 1) * l.cell_height);
    return {x0 + 1, y0 + 1, std::max(x0 + 1, x1 - 1), std::max(y0 + 1, y1 - 1)};
}

std::string heat_value_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", value);
    return text;
}

Canvas render_heat_map(const HeatMap& map) {
    const HeatLayout l = layout_heat_map(map);
    const double s = l.s, pad = l.pad, W = map.width, H = map.height;
    const Font& font = default_font();
    Canvas canvas(map.width, map.height, kWhite);
    const size_t nx = map.columns.size(), ny = map.rows.size();

    for (size_t r = 0; r < ny; ++r)
        for (size_t c = 0; c < nx; ++c) {
            const double value = map.values[r * nx + c];
            const RectF cell = cell_rect(l, int(c), int(r));
            canvas.fill_rect(cell, diverging_color(value, l.decades));
            // Dark cells get white text.
            const double t = has_value(value) ? std::abs(std::log10(value)) / l.decades : 0;
            const Rgb ink = t > 0.55 ? kWhite : kTextColor;
            const std::string note = map.notes.empty() ? "" : map.notes[r * nx + c];
            const double size = std::min(l.fonts.label, l.cell_height * 0.3);
            std::vector<TextMask> lines;
            if (has_value(value)) lines.push_back(fitted_text(heat_value_text(value), size, cell.width() - 6 * s));
            if (!note.empty()) lines.push_back(fitted_text(note, size * 0.8, cell.width() - 6 * s));
            double total = 0;
            for (const TextMask& m : lines) total += m.height;
            double y = (cell.y0 + cell.y1) / 2 - total / 2;
            canvas.set_clip(cell);
            for (const TextMask& m : lines) {
                canvas.draw_text(m, (cell.x0 + cell.x1) / 2, y, HAlign::kCenter, VAlign::kTop, ink);
                y += m.height;
            }
            canvas.reset_clip();
        }

    // Column labels under the grid, row labels left of it.
    for (size_t c = 0; c < nx; ++c) {
        const TextMask label = fitted_text(map.columns[c], l.fonts.tick, l.cell_width - 4 * s);
        canvas.draw_text(label, l.grid.x0 + (c + 0.5) * l.cell_width, l.grid.y1 + 6 * s, HAlign::kCenter,
                         VAlign::kTop, kTextColor);
    }
    for (size_t r = 0; r < ny; ++r)
        canvas.draw_text(font.render(map.rows[r], l.fonts.tick), l.grid.x0 - 8 * s, l.grid.y1 - (r + 0.5) * l.cell_height,
                         HAlign::kRight, VAlign::kCenter, kTextColor);

    // The colour bar: 10^-decades at the bottom, 10^decades at the top.
    const RectF& bar = l.bar;
    const auto bar_value = [&](double y) { return std::pow(10.0, l.decades * (1 - 2 * (y - bar.y0) / bar.height())); };
    for (int y = int(bar.y0); y < int(bar.y1); ++y)
        canvas.fill_rect({bar.x0, double(y), bar.x1, double(y + 1)}, diverging_color(bar_value(y + 0.5), l.decades));
    const int bx0 = int(bar.x0), bx1 = int(bar.x1), by0 = int(bar.y0), by1 = int(bar.y1);
    canvas.hline(bx0, bx1, by0, kFrameColor);
    canvas.hline(bx0, bx1, by1, kFrameColor);
    canvas.vline(bx0, by0, by1, kFrameColor);
    canvas.vline(bx1, by0, by1, kFrameColor);
    const int tick = int(std::round(5 * s));
    for (double t : l.ticks) {
        const int y = int(std::floor(bar.y1 - (std::log10(t) + l.decades) / (2 * l.decades) * bar.height()));
        canvas.hline(bx1, bx1 + tick, y, kFrameColor);
        canvas.draw_text(font.render(format_compact(t), l.fonts.tick), bx1 + tick + 5 * s, y + 0.5, HAlign::kLeft,
                         VAlign::kCenter, kTextColor);
    }

    // Titles.
    if (!map.title.empty())
        canvas.draw_text(fitted_text(map.title, l.fonts.title, W - 2 * pad), W / 2, pad, HAlign::kCenter,
                         VAlign::kTop, kTextColor);
    if (!map.x_label.empty())
        canvas.draw_text(fitted_text(map.x_label, l.fonts.label, W - 2 * pad), (l.grid.x0 + l.grid.x1) / 2, H - pad,
                         HAlign::kCenter, VAlign::kBottom, kTextColor);
    if (!map.y_label.empty())
        canvas.draw_text(fitted_text(map.y_label, l.fonts.label, H - 2 * pad), pad, (l.grid.y0 + l.grid.y1) / 2,
                         HAlign::kLeft, VAlign::kCenter, kTextColor, /*rotated=*/true);
    if (!map.scale_label.empty()) {
        const TextMask scale = fitted_text(map.scale_label, l.fonts.label, H - 2 * pad);
        canvas.draw_text(scale, W - pad - scale.height, (bar.y0 + bar.y1) / 2, HAlign::kLeft, VAlign::kCenter,
                         kTextColor, /*rotated=*/true);
    }
    return canvas;
}

}  // namespace

Rgb diverging_color(double value, double decades) {
    if (!has_value(value)) return kNoValue;
    const double t = std::clamp(std::log10(value) / decades, -1.0, 1.0);
    const Rgb end = t < 0 ? kScaleLow : kScaleHigh;
    const double a = std::abs(t);
    const auto mix = [a](uint8_t from, uint8_t to) { return uint8_t(std::lround(from + a * (double(to) - from))); };
    return {mix(kScaleCentre.r, end.r), mix(kScaleCentre.g, end.g), mix(kScaleCentre.b, end.b)};
}

double heat_map_decades(const HeatMap& map) {
    double decades = std::log10(2.0);
    for (double v : map.values)
        if (has_value(v)) decades = std::max(decades, std::abs(std::log10(v)));
    return decades;
}

RectF heat_map_cell(const HeatMap& map, int column, int row) {
    TWP_CHECK(column >= 0 && size_t(column) < map.columns.size() && row >= 0 && size_t(row) < map.rows.size(),
              "heat map '" << map.title << "' has no cell (" << column << ", " << row << ")");
    return cell_rect(layout_heat_map(map), column, row);
}

void save_heat_map_png(const std::filesystem::path& path, const HeatMap& map) {
    write_file_atomically(path, render_heat_map(map).encode_png());
}

void save_heat_map_csv(const std::filesystem::path& path, const HeatMap& map) {
    check_heat_map(map);
    std::string text = "x,y,value,note\n";
    const size_t nx = map.columns.size();
    for (size_t r = 0; r < map.rows.size(); ++r)
        for (size_t c = 0; c < nx; ++c) {
            const double v = map.values[r * nx + c];
            text += csv_field(map.columns[c]) + "," + csv_field(map.rows[r]) + "," + (std::isfinite(v) ? shortest(v) : "") +
                    "," + (map.notes.empty() ? "" : csv_field(map.notes[r * nx + c])) + "\n";
        }
    write_file_atomically(path, text);
}

}  // namespace twp
