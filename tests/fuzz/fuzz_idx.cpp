// libFuzzer target for the IDX reader (engine/idx): every input is a whole file as stored on
// disk, raw or gzip (the decoder detects gzip by its magic, so the fuzzer reaches zlib's paths by
// mutating the gzip seeds), decoded both as an images file and as a labels file. Bad input must
// end in twp::Error; anything else (a sanitizer report, another exception, a broken invariant of
// a decoded result) crashes the run. Built and run by tools/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/idx.hpp"

namespace {

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_idx: broken invariant: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    try {
        const twp::IdxImages images = twp::decode_idx_images(bytes, "fuzz-input");
        if (images.count <= 0 || images.rows <= 0 || images.cols <= 0) broken("empty dimension");
        if (images.rows > twp::idx_max_image_side || images.cols > twp::idx_max_image_side) {
            broken("image side above the bound");
        }
        if (images.pixels.size() != uint64_t(images.count) * uint64_t(images.rows) * uint64_t(images.cols)) {
            broken("pixel count differs from count * rows * cols");
        }
        unsigned sum = 0;  // read every pixel, so ASan sees the whole buffer
        for (uint8_t pixel : images.pixels) sum += pixel;
        if (sum > 255u * images.pixels.size()) broken("pixel sum");
    } catch (const twp::Error&) {
        // Expected on bad input.
    }
    try {
        const std::vector<uint8_t> labels = twp::decode_idx_labels(bytes, "fuzz-input");
        if (labels.empty()) broken("no labels");
        for (uint8_t label : labels) {
            if (label > 9) broken("label outside 0..9");
        }
    } catch (const twp::Error&) {
    }
    return 0;
}
