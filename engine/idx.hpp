// IDX reader: the file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).
// An IDX file is a 4-byte big-endian magic 0x0000TTDD (TT = element type, 0x08 = unsigned byte;
// DD = number of dimensions), then DD big-endian uint32 dimension sizes, then the elements,
// row-major. Files may be raw or gzip-compressed (detected by the gzip magic 1f 8b, not by the
// name). Everything is validated before it is returned: magic, header, dimensions, and that the
// data is exactly as long as the header says (a shorter or a longer file is an error, so a
// damaged download never trains silently on part of the data). Errors throw twp::Error naming the
// file. The decoders work on the file's bytes in memory (what the readers and the fuzz targets in
// tests/fuzz/ call); the readers read the whole file, then decode it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace twp {

// Largest rows / cols we accept; real image sets are far smaller, so anything above this is a
// corrupt header, and the bound keeps count * rows * cols well inside 64 bits.
inline constexpr int idx_max_image_side = 4096;

struct IdxImages {
    int64_t count = 0;            // number of images
    int rows = 0, cols = 0;       // image height, width
    std::vector<uint8_t> pixels;  // [count, rows, cols] row-major, 0..255
};

// Reads an IDX images file (magic 0x00000803: unsigned bytes, 3 dimensions count, rows, cols).
IdxImages read_idx_images(const std::string& path);

// Reads an IDX labels file (magic 0x00000801: unsigned bytes, 1 dimension count); every label
// must be a class index 0..9.
std::vector<uint8_t> read_idx_labels(const std::string& path);  // [count]

// The same checks on a file's bytes already in memory: `bytes` is the file as stored (raw or
// gzip, detected by its magic), `name` is what errors call the file (its path). Never reads
// outside `bytes`, and allocates only as fast as real data turns up, whatever the header claims.
IdxImages decode_idx_images(std::string_view bytes, const std::string& name);
std::vector<uint8_t> decode_idx_labels(std::string_view bytes, const std::string& name);

}  // namespace twp
