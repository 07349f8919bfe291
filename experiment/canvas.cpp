// Raster drawing, TrueType text and PNG encoding for the plots; see canvas.hpp.
// Anti-aliasing is by distance: a pixel's coverage of a round shape is approximated by how far its
// centre lies inside the shape's edge, clamped to [0, 1] over one pixel. This gives smooth thick
// lines and round markers without supersampling the whole image.
// This file holds the one copy of the stb_truetype and stb_image_write implementations in twp
// (header-only libraries from libstb-dev, made `static` here so they cannot clash with another
// copy linked into the same program) and compiles them without our warnings.
#include "experiment/canvas.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <zlib.h>

#include "engine/error.hpp"

namespace {
// stb_image_write's own deflate takes ~90 ms for a 1000 x 640 plot; zlib (already linked for the
// gzipped IDX files) takes a few and compresses better. stb frees the result with free().
unsigned char* zlib_compress_for_stb(unsigned char* data, int data_len, int* out_len, int /*quality*/) {
    uLongf size = compressBound(uLong(data_len));
    auto* out = static_cast<unsigned char*>(std::malloc(size));
    if (out == nullptr) return nullptr;
    if (compress2(out, &size, data, uLong(data_len), Z_DEFAULT_COMPRESSION) != Z_OK) {
        std::free(out);
        return nullptr;
    }
    *out_len = int(size);
    return out;
}
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STBTT_STATIC
#define STB_TRUETYPE_IMPLEMENTATION
#include <stb/stb_truetype.h>
#define STB_IMAGE_WRITE_STATIC
#define STBIW_ZLIB_COMPRESS zlib_compress_for_stb
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace twp {
namespace {

// Decodes UTF-8 into code points; a malformed byte becomes U+FFFD rather than an error, since a
// label with a stray byte should still produce a plot.
std::vector<int> utf8_code_points(const std::string& text) {
    std::vector<int> points;
    for (size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        int length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3
                                                          : (byte >> 3) == 0x1E ? 4 : 0;
        if (length == 0 || i + length > text.size()) {
            points.push_back(0xFFFD);
            ++i;
            continue;
        }
        int code = length == 1 ? byte : byte & (0x7F >> length);
        bool valid = true;
        for (int k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            valid = valid && (next >> 6) == 0x2;
            code = (code << 6) | (next & 0x3F);
        }
        points.push_back(valid ? code : 0xFFFD);
        i += valid ? length : 1;
    }
    return points;
}

double clamp01(double value) { return std::clamp(value, 0.0, 1.0); }

// Distance from p to the segment a-b (a point when a == b).
double distance_to_segment(PointF p, PointF a, PointF b) {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double length_squared = dx * dx + dy * dy;
    double t = 0;
    if (length_squared > 0) t = std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length_squared, 0.0, 1.0);
    const double ex = p.x - (a.x + t * dx), ey = p.y - (a.y + t * dy);
    return std::sqrt(ex * ex + ey * ey);
}

}  // namespace

// ---- Font ----

struct Font::Impl {
    std::vector<unsigned char> ttf;  // the whole file; `info` points into it
    stbtt_fontinfo info{};
    int ascent = 0, descent = 0;     // font units; descent is negative

    // One glyph placed on a line: its index and pen position in pixels.
    struct Placed {
        int glyph;
        double pen_x;
    };
    // Pen positions with kerning, and the line's total advance, at `scale`.
    std::vector<Placed> layout(const std::string& text, double scale, double* advance) const {
        std::vector<Placed> placed;
        double pen = 0;
        int previous = 0;
        for (int code : utf8_code_points(text)) {
            const int glyph = stbtt_FindGlyphIndex(&info, code);
            if (previous != 0) pen += scale * stbtt_GetGlyphKernAdvance(&info, previous, glyph);
            placed.push_back({glyph, pen});
            int advance_width = 0, left_bearing = 0;
            stbtt_GetGlyphHMetrics(&info, glyph, &advance_width, &left_bearing);
            pen += scale * advance_width;
            previous = glyph;
        }
        *advance = pen;
        return placed;
    }
};

Font::Font(const std::filesystem::path& ttf_path) : impl_(std::make_unique<Impl>()) {
    std::ifstream in(ttf_path, std::ios::binary);
    TWP_CHECK(in.good(), "cannot open font file '" << ttf_path.string()
                                                   << "'; install fonts-dejavu-core (tools/setup-deps.sh)"
                                                      " or point $TWP_PLOT_FONT at a .ttf file");
    impl_->ttf.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const int offset = stbtt_GetFontOffsetForIndex(impl_->ttf.data(), 0);
    TWP_CHECK(!impl_->ttf.empty() && offset >= 0 &&
                  stbtt_InitFont(&impl_->info, impl_->ttf.data(), offset) != 0,
              "'" << ttf_path.string()
                  << "' is not a TrueType font; reinstall fonts-dejavu-core or point $TWP_PLOT_FONT at"
                     " a .ttf file");
    int line_gap = 0;
    stbtt_GetFontVMetrics(&impl_->info, &impl_->ascent, &impl_->descent, &line_gap);
}

Font::~Font() = default;
Font::Font(Font&&) noexcept = default;
Font& Font::operator=(Font&&) noexcept = default;

double Font::text_width(const std::string& text, double pixel_height) const {
    double advance = 0;
    impl_->layout(text, stbtt_ScaleForPixelHeight(&impl_->info, float(pixel_height)), &advance);
    return advance;
}

TextMask Font::render(const std::string& text, double pixel_height) const {
    const float scale = stbtt_ScaleForPixelHeight(&impl_->info, float(pixel_height));
    double advance = 0;
    const std::vector<Impl::Placed> placed = impl_->layout(text, scale, &advance);

    TextMask mask;
    mask.baseline = int(std::ceil(impl_->ascent * scale));
    mask.height = mask.baseline + int(std::ceil(-impl_->descent * scale));
    // Glyphs may overhang their advance (an italic f, a j's hook): size the box to the ink too.
    int ink_left = 0, ink_right = int(std::ceil(advance));
    struct Box {
        int x0, y0, x1, y1;
        float shift;
    };
    std::vector<Box> boxes;
    for (const auto& glyph : placed) {
        Box box{};
        box.shift = float(glyph.pen_x - std::floor(glyph.pen_x));
        stbtt_GetGlyphBitmapBoxSubpixel(&impl_->info, glyph.glyph, scale, scale, box.shift, 0,
                                        &box.x0, &box.y0, &box.x1, &box.y1);
        const int origin = int(std::floor(glyph.pen_x));
        box.x0 += origin;
        box.x1 += origin;
        ink_left = std::min(ink_left, box.x0);
        ink_right = std::max(ink_right, box.x1);
        boxes.push_back(box);
    }
    mask.width = std::max(ink_right - ink_left, 0);
    mask.coverage.assign(size_t(mask.width) * mask.height, 0);

    std::vector<unsigned char> glyph_bitmap;
    for (size_t g = 0; g < placed.size(); ++g) {
        const Box& box = boxes[g];
        const int w = box.x1 - box.x0, h = box.y1 - box.y0;
        if (w <= 0 || h <= 0) continue;  // a space
        glyph_bitmap.assign(size_t(w) * h, 0);
        stbtt_MakeGlyphBitmapSubpixel(&impl_->info, glyph_bitmap.data(), w, h, w, scale, scale,
                                      box.shift, 0, placed[g].glyph);
        for (int row = 0; row < h; ++row) {
            const int y = mask.baseline + box.y0 + row;
            if (y < 0 || y >= mask.height) continue;
            for (int col = 0; col < w; ++col) {
                const int x = box.x0 - ink_left + col;
                uint8_t& out = mask.coverage[size_t(y) * mask.width + x];
                out = uint8_t(std::min(255, out + glyph_bitmap[size_t(row) * w + col]));
            }
        }
    }
    return mask;
}

std::filesystem::path find_font_file(const std::vector<std::filesystem::path>& candidates) {
    std::error_code ignored;
    for (const auto& candidate : candidates)
        if (std::filesystem::is_regular_file(candidate, ignored)) return candidate;
    std::ostringstream looked;
    for (const auto& candidate : candidates) looked << " '" << candidate.string() << "'";
    TWP_FAIL("no font file for the plots; looked at" << looked.str()
                                                     << "; install the Debian package fonts-dejavu-core"
                                                        " (tools/setup-deps.sh) or point $TWP_PLOT_FONT"
                                                        " at a .ttf file");
}

const Font& default_font() {
    static const Font font = [] {
        if (const char* chosen = std::getenv("TWP_PLOT_FONT"); chosen && *chosen)
            return Font(find_font_file({chosen}));  // an explicit choice never falls back silently
        return Font(find_font_file({
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  // Debian, Ubuntu
            "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",  // Fedora
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",  // older Fedora, Alpine
            "/usr/share/fonts/TTF/DejaVuSans.ttf",  // Arch
            "/usr/local/share/fonts/DejaVuSans.ttf",
        }));
    }();
    return font;
}

// ---- Canvas ----

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
    TWP_CHECK(width > 0 && height > 0 && width <= 20000 && height <= 20000,
              "canvas size " << width << "x" << height << " is not between 1 and 20000 pixels a side");
    pixels_.resize(size_t(width) * height * 3);
    for (size_t i = 0; i < pixels_.size(); i += 3) {
        pixels_[i] = background.r;
        pixels_[i + 1] = background.g;
        pixels_[i + 2] = background.b;
    }
    reset_clip();
}

Rgb Canvas::pixel(int x, int y) const {
    TWP_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_,
              "pixel (" << x << ", " << y << ") is outside the " << width_ << "x" << height_ << " canvas");
    const uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
    return {p[0], p[1], p[2]};
}

void Canvas::set_clip(RectF clip) {
    clip_x0_ = std::clamp(int(std::floor(clip.x0)), 0, width_);
    clip_y0_ = std::clamp(int(std::floor(clip.y0)), 0, height_);
    clip_x1_ = std::clamp(int(std::ceil(clip.x1)), clip_x0_, width_);
    clip_y1_ = std::clamp(int(std::ceil(clip.y1)), clip_y0_, height_);
}

void Canvas::reset_clip() {
    clip_x0_ = clip_y0_ = 0;
    clip_x1_ = width_;
    clip_y1_ = height_;
}

void Canvas::blend(int x, int y, Rgb color, double alpha) {
    if (x < clip_x0_ || x >= clip_x1_ || y < clip_y0_ || y >= clip_y1_ || alpha <= 0) return;
    uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
    const double a = std::min(alpha, 1.0);
    p[0] = uint8_t(std::lround(p[0] + (color.r - p[0]) * a));
    p[1] = uint8_t(std::lround(p[1] + (color.g - p[1]) * a));
    p[2] = uint8_t(std::lround(p[2] + (color.b - p[2]) * a));
}

void Canvas::blend_mask(int x0, int y0, int x1, int y1, const std::vector<float>& mask, Rgb color) {
    const int w = x1 - x0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) blend(x, y, color, mask[size_t(y - y0) * w + (x - x0)]);
}

void Canvas::fill_rect(RectF rect, Rgb color, double alpha) {
    const int x0 = std::max(int(std::floor(rect.x0)), clip_x0_);
    const int y0 = std::max(int(std::floor(rect.y0)), clip_y0_);
    const int x1 = std::min(int(std::ceil(rect.x1)), clip_x1_);
    const int y1 = std::min(int(std::ceil(rect.y1)), clip_y1_);
    for (int y = y0; y < y1; ++y) {
        const double cover_y = clamp01(std::min(rect.y1, y + 1.0) - std::max(rect.y0, double(y)));
        for (int x = x0; x < x1; ++x) {
            const double cover_x = clamp01(std::min(rect.x1, x + 1.0) - std::max(rect.x0, double(x)));
            blend(x, y, color, alpha * cover_x * cover_y);
        }
    }
}

void Canvas::hline(int x0, int x1, int y, Rgb color) {
    if (x0 > x1) std::swap(x0, x1);
    for (int x = x0; x <= x1; ++x) blend(x, y, color, 1.0);
}

void Canvas::vline(int x, int y0, int y1, Rgb color) {
    if (y0 > y1) std::swap(y0, y1);
    for (int y = y0; y <= y1; ++y) blend(x, y, color, 1.0);
}

void Canvas::polyline(const std::vector<PointF>& points, Rgb color, double line_width,
                      double dash_on, double dash_off) {
    if (points.empty()) return;
    const double half = line_width / 2;
    const double reach = half + 1;  // beyond this distance a pixel centre gets no coverage
    // The mask covers the polyline's bounding box, clipped: every segment writes into it with max.
    double min_x = points[0].x, max_x = min_x, min_y = points[0].y, max_y = min_y;
    for (const PointF& p : points) {
        min_x = std::min(min_x, p.x);
        max_x = std::max(max_x, p.x);
        min_y = std::min(min_y, p.y);
        max_y = std::max(max_y, p.y);
    }
    const int x0 = std::max(int(std::floor(min_x - reach)), clip_x0_);
    const int y0 = std::max(int(std::floor(min_y - reach)), clip_y0_);
    const int x1 = std::min(int(std::ceil(max_x + reach)) + 1, clip_x1_);
    const int y1 = std::min(int(std::ceil(max_y + reach)) + 1, clip_y1_);
    if (x0 >= x1 || y0 >= y1) return;
    const int w = x1 - x0;
    std::vector<float> mask(size_t(w) * (y1 - y0), 0.0f);

    auto stamp_segment = [&](PointF a, PointF b) {
        const int sx0 = std::max(int(std::floor(std::min(a.x, b.x) - reach)), x0);
        const int sy0 = std::max(int(std::floor(std::min(a.y, b.y) - reach)), y0);
        const int sx1 = std::min(int(std::ceil(std::max(a.x, b.x) + reach)) + 1, x1);
        const int sy1 = std::min(int(std::ceil(std::max(a.y, b.y) + reach)) + 1, y1);
        for (int y = sy0; y < sy1; ++y)
            for (int x = sx0; x < sx1; ++x) {
                const double coverage = clamp01(half + 0.5 - distance_to_segment({x + 0.5, y + 0.5}, a, b));
                float& m = mask[size_t(y - y0) * w + (x - x0)];
                m = std::max(m, float(coverage));
            }
    };

    const bool dashed = dash_on > 0 && dash_off > 0;
    if (points.size() == 1) stamp_segment(points[0], points[0]);
    bool on = true;
    double left_in_state = dash_on;  // pixels until the dash pattern switches
    for (size_t i = 1; i < points.size(); ++i) {
        const PointF a = points[i - 1], b = points[i];
        if (!dashed) {
            stamp_segment(a, b);
            continue;
        }
        const double length = std::hypot(b.x - a.x, b.y - a.y);
        double done = 0;
        while (done < length) {
            const double step = std::min(left_in_state, length - done);
            if (on) {
                const double t0 = done / length, t1 = (done + step) / length;
                stamp_segment({a.x + t0 * (b.x - a.x), a.y + t0 * (b.y - a.y)},
                              {a.x + t1 * (b.x - a.x), a.y + t1 * (b.y - a.y)});
            }
            done += step;
            left_in_state -= step;
            if (left_in_state <= 0) {
                on = !on;
                left_in_state = on ? dash_on : dash_off;
            }
        }
    }
    blend_mask(x0, y0, x1, y1, mask, color);
}

void Canvas::fill_circle(PointF centre, double radius, Rgb color) {
    const int x0 = int(std::floor(centre.x - radius - 1)), x1 = int(std::ceil(centre.x + radius + 1));
    const int y0 = int(std::floor(centre.y - radius - 1)), y1 = int(std::ceil(centre.y + radius + 1));
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) {
            const double d = std::hypot(x + 0.5 - centre.x, y + 0.5 - centre.y);
            blend(x, y, color, clamp01(radius + 0.5 - d));
        }
}

void Canvas::draw_text(const TextMask& text, double x, double y, HAlign h, VAlign v, Rgb color,
                       bool rotated) {
    const int box_width = rotated ? text.height : text.width;
    const int box_height = rotated ? text.width : text.height;
    // Whole-pixel placement keeps the rasterizer's hinting-free glyphs as sharp as they came out.
    const int left = int(std::lround(h == HAlign::kLeft     ? x
                                     : h == HAlign::kCenter ? x - box_width / 2.0
                                                            : x - box_width));
    const int top = int(std::lround(v == VAlign::kTop      ? y
                                    : v == VAlign::kCenter ? y - box_height / 2.0
                                                           : y - box_height));
    for (int row = 0; row < text.height; ++row)
        for (int col = 0; col < text.width; ++col) {
            const uint8_t coverage = text.coverage[size_t(row) * text.width + col];
            if (coverage == 0) continue;
            // Rotated counter-clockwise: the text's first column ends up at the bottom, its top
            // row on the left.
            const int px = rotated ? left + row : left + col;
            const int py = rotated ? top + (text.width - 1 - col) : top + row;
            blend(px, py, color, coverage / 255.0);
        }
}

std::string Canvas::encode_png() const {
    std::string bytes;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
    };
    // Plots are mostly flat color: unfiltered rows deflate smallest (about 20 KB for 1000 x 640)
    // and skip stb's per-row trial of all five filters. Set once: it is a (file-static) global.
    static const bool no_png_filter = (stbi_write_force_png_filter = 0, true);
    (void)no_png_filter;
    const int ok = stbi_write_png_to_func(append, &bytes, width_, height_, 3, pixels_.data(), width_ * 3);
    TWP_CHECK(ok != 0 && !bytes.empty(),
              "PNG encoding of a " << width_ << "x" << height_ << " image failed (out of memory?)");
    return bytes;
}

}  // namespace twp
