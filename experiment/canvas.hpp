// The raster layer under the plots: an 8-bit RGB image with anti-aliased drawing (thick lines,
// dashed polylines, filled circles, rectangles) and TrueType text, encoded to PNG in memory.
// Layout: pixels row-major, 3 bytes (r, g, b) per pixel, row 0 at the top, no padding between rows.
// Coordinates are in pixels with (0, 0) the top-left corner of the top-left pixel, so the centre of
// pixel (i, j) is (i + 0.5, j + 0.5). Everything drawn is clipped to the canvas and to the current
// clip rectangle. Colors blend in sRGB space (alpha = the shape's coverage of the pixel).
// Text uses stb_truetype with the DejaVu Sans font (Debian package fonts-dejavu-core); the stb
// headers (libstb-dev) are only included by canvas.cpp, never by this header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace twp {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
};

inline bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

struct PointF {
    double x = 0, y = 0;  // pixels
};

struct RectF {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels; x0 <= x1, y0 <= y1 (top-left, bottom-right)
    double width() const { return x1 - x0; }
    double height() const { return y1 - y0; }
    bool contains(PointF p) const { return p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1; }
};

// Rendered text as a coverage mask: `width` x `height` bytes, row-major, 0 (none) to 255 (full).
// The baseline lies `baseline` pixels below the top row; the box spans the font's full ascent and
// descent, so strings of the same size line up whatever letters they contain.
struct TextMask {
    int width = 0, height = 0;
    int baseline = 0;
    std::vector<uint8_t> coverage;  // (height, width)
};

// A TrueType font read from a file. Movable, not copyable (it owns the file's bytes, which the
// glyph tables point into).
class Font {
public:
    explicit Font(const std::filesystem::path& ttf_path);  // throws twp::Error naming the file
    ~Font();
    Font(Font&&) noexcept;
    Font& operator=(Font&&) noexcept;
    Font(const Font&) = delete;
    Font& operator=(const Font&) = delete;

    // Renders UTF-8 `text` with a line height (ascent + descent) of `pixel_height` pixels.
    // Characters the font lacks are drawn as its missing-glyph box.
    TextMask render(const std::string& text, double pixel_height) const;
    // Width in pixels `render` would produce, without rasterizing.
    double text_width(const std::string& text, double pixel_height) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The first of `candidates` that is a regular file; otherwise throws twp::Error listing them all and
// naming the Debian package to install.
std::filesystem::path find_font_file(const std::vector<std::filesystem::path>& candidates);

// DejaVu Sans, loaded once per process from the first standard location that has it (Debian,
// Fedora, Arch and /usr/local layouts), or from $TWP_PLOT_FONT when that is set.
const Font& default_font();

enum class HAlign { kLeft, kCenter, kRight };
enum class VAlign { kTop, kCenter, kBottom };

class Canvas {
public:
    Canvas(int width, int height, Rgb background);

    int width() const { return width_; }
    int height() const { return height_; }
    const std::vector<uint8_t>& pixels() const { return pixels_; }  // (height, width, 3)
    Rgb pixel(int x, int y) const;

    // Drawing is limited to `clip` (intersected with the canvas) until reset_clip().
    void set_clip(RectF clip);
    void reset_clip();

    // Solid rectangle, anti-aliased at fractional edges; alpha in [0, 1] scales its opacity.
    void fill_rect(RectF rect, Rgb color, double alpha = 1.0);
    // 1-pixel axis-aligned lines on pixel centres: crisp grid lines, ticks and frames.
    void hline(int x0, int x1, int y, Rgb color);
    void vline(int x, int y0, int y1, Rgb color);
    // An anti-aliased polyline `line_width` pixels wide with round joins and caps. Each pixel is
    // painted once with the largest coverage any segment gives it, so joins do not darken.
    // `dash_on`/`dash_off` > 0 make it dashed, the pattern running on across segments.
    void polyline(const std::vector<PointF>& points, Rgb color, double line_width,
                  double dash_on = 0, double dash_off = 0);
    void fill_circle(PointF centre, double radius, Rgb color);
    // Draws a text mask with its box aligned to (x, y); `rotated` turns it 90 degrees
    // counter-clockwise (reading bottom to top), as a y-axis title.
    void draw_text(const TextMask& text, double x, double y, HAlign h, VAlign v, Rgb color,
                   bool rotated = false);

    // The image as PNG file bytes.
    std::string encode_png() const;

private:
    void blend(int x, int y, Rgb color, double alpha);
    // Paints the pixels in [x0, x1) x [y0, y1) with `color` at the opacity in `mask` (same size).
    void blend_mask(int x0, int y0, int x1, int y1, const std::vector<float>& mask, Rgb color);

    int width_, height_;
    std::vector<uint8_t> pixels_;  // (height, width, 3)
    int clip_x0_, clip_y0_, clip_x1_, clip_y1_;  // half-open pixel range that may be painted
};

}  // namespace twp
