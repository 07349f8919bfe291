// IDX reader (see idx.hpp for the format). The file's bytes are decoded as a stream of content
// bytes, either the bytes themselves or their inflated gzip stream when they start with the gzip
// magic 1f 8b, so raw and compressed files go through the same header and length checks. We
// inflate with zlib's inflate() rather than gzread() because gzread() quietly ignores garbage
// after the gzip stream; here a cut-off stream, damaged data and trailing garbage each get their
// own error. Content is decoded into a buffer that grows only as fast as real data arrives, so a
// corrupt header that claims billions of images fails with "truncated" instead of first allocating
// what it claims (and a small gzip input cannot make us allocate more than it inflates to).
#include "engine/idx.hpp"

#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

#include "engine/error.hpp"

namespace twp {
namespace {

constexpr uint32_t idx_images_magic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t idx_labels_magic = 0x00000801;  // unsigned byte, 1 dimension
constexpr uint8_t idx_type_unsigned_byte = 0x08;

std::string hex32(uint32_t value) {
    std::ostringstream text;
    text << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
    return text.str();
}

uint32_t read_be32(const uint8_t* bytes) {
    return (uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) |
           uint32_t(bytes[3]);
}

const char* zlib_code_name(int code) {
    switch (code) {
        case Z_NEED_DICT: return "Z_NEED_DICT";
        case Z_ERRNO: return "Z_ERRNO";
        case Z_STREAM_ERROR: return "Z_STREAM_ERROR";
        case Z_DATA_ERROR: return "Z_DATA_ERROR";
        case Z_MEM_ERROR: return "Z_MEM_ERROR";
        case Z_BUF_ERROR: return "Z_BUF_ERROR";
        case Z_VERSION_ERROR: return "Z_VERSION_ERROR";
        default: return "unknown zlib code";
    }
}

// The content bytes of one file held in memory: the bytes themselves, or their decompressed gzip
// stream. Owns the zlib state; not copyable because of it. `bytes` must outlive the reader.
class ContentReader {
public:
    ContentReader(std::string_view bytes, const std::string& name, const char* kind)
        : bytes_(bytes), name_(name), kind_(kind) {
        gzip_ = bytes_.size() >= 2 && uint8_t(bytes_[0]) == 0x1f && uint8_t(bytes_[1]) == 0x8b;
        if (gzip_) {
            // 16 + MAX_WBITS: expect a gzip wrapper (not zlib or raw deflate) and check its CRC.
            const int rc = inflateInit2(&stream_, 16 + MAX_WBITS);
            if (rc != Z_OK) {
                TWP_FAIL("cannot decompress IDX " << kind_ << " file '" << name_
                                                  << "': zlib inflateInit2 failed with "
                                                  << zlib_code_name(rc)
                                                  << (stream_.msg ? std::string(": ") + stream_.msg
                                                                  : std::string()));
            }
            inflate_ready_ = true;
        }
    }

    ~ContentReader() {
        if (inflate_ready_) inflateEnd(&stream_);
    }

    ContentReader(const ContentReader&) = delete;
    ContentReader& operator=(const ContentReader&) = delete;

    // Reads up to n content bytes into dst; returns fewer only at the end of the content.
    size_t read(uint8_t* dst, size_t n) { return gzip_ ? read_gzip(dst, n) : read_raw(dst, n); }

    bool is_gzip() const { return gzip_; }

    // Content bytes certainly still to come: the rest of a raw file; unknown (0) for gzip.
    size_t known_available() const { return gzip_ ? 0 : bytes_.size() - position_; }

    // "IDX images file 'path'" (plus "(gzip)"), the subject of every message about this file.
    std::string describe() const {
        return "IDX " + std::string(kind_) + " file '" + name_ + "'" + (gzip_ ? " (gzip)" : "");
    }

    // What the byte counts in messages count: after decompression they are not file sizes.
    const char* content_name() const { return gzip_ ? "decompressed content" : "file"; }

private:
    size_t read_raw(uint8_t* dst, size_t n) {
        const size_t got = std::min(n, bytes_.size() - position_);
        if (got > 0) std::memcpy(dst, bytes_.data() + position_, got);
        position_ += got;
        return got;
    }

    // Hands zlib the next block of compressed bytes; false at the end of the input. Blocks are
    // bounded because avail_in is 32 bits wide.
    bool refill() {
        const size_t got = std::min(bytes_.size() - position_, size_t(1) << 30);
        if (got == 0) return false;
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes_.data() + position_));
        stream_.avail_in = uInt(got);
        position_ += got;
        return true;
    }

    // Compressed bytes zlib has consumed so far.
    uint64_t consumed() const { return position_ - stream_.avail_in; }

    size_t read_gzip(uint8_t* dst, size_t n) {
        size_t produced = 0;
        while (produced < n && !stream_done_) {
            if (stream_.avail_in == 0 && !refill()) {
                TWP_FAIL(describe()
                         << " is truncated: the compressed data ends after " << position_
                         << " bytes, before the end of the gzip stream (" << decompressed_
                         << " bytes decompressed so far). The download was probably cut short; "
                            "delete the file and fetch it again");
            }
            const uInt chunk = uInt(std::min<size_t>(n - produced, size_t(1) << 30));
            stream_.next_out = dst + produced;
            stream_.avail_out = chunk;
            const int rc = inflate(&stream_, Z_NO_FLUSH);
            const size_t out = chunk - stream_.avail_out;
            produced += out;
            decompressed_ += out;
            if (rc == Z_STREAM_END) {
                // gzip allows several members back to back (what `cat a.gz b.gz` makes), so
                // another member may follow; anything else after a member is damage.
                if (stream_.avail_in == 0 && !refill()) {
                    stream_done_ = true;
                } else if (stream_.next_in[0] != 0x1f) {
                    TWP_FAIL(describe()
                             << " is corrupt: non-gzip bytes follow the end of its gzip stream "
                                "(from compressed offset "
                             << consumed() << "). Delete the file and fetch it again");
                } else {
                    const int reset_rc = inflateReset(&stream_);
                    if (reset_rc != Z_OK) {
                        TWP_FAIL("cannot decompress " << describe() << ": zlib inflateReset failed "
                                                      << "with " << zlib_code_name(reset_rc));
                    }
                }
            } else if (rc != Z_OK) {
                // With input available and output space, Z_BUF_ERROR cannot happen; every other
                // code means the compressed bytes are damaged (or memory ran out).
                TWP_FAIL(describe() << " is corrupt: zlib inflate failed with "
                                    << zlib_code_name(rc)
                                    << (stream_.msg ? std::string(" (") + stream_.msg + ")"
                                                    : std::string())
                                    << " after " << decompressed_
                                    << " decompressed bytes. Delete the file and fetch it again");
            }
        }
        return produced;
    }

    std::string_view bytes_;  // the whole file as stored
    size_t position_ = 0;     // raw: next content byte; gzip: bytes handed to zlib so far
    std::string name_;
    const char* kind_;  // "images" or "labels", for messages
    bool gzip_ = false;
    bool inflate_ready_ = false;  // inflateInit2 succeeded, so inflateEnd is owed
    bool stream_done_ = false;    // the last gzip member ended at the end of the input
    z_stream stream_{};
    uint64_t decompressed_ = 0;
};

struct FileCloser {
    void operator()(FILE* file) const { std::fclose(file); }
};

// The whole file as stored. Read with stdio in blocks, so pipes and other unseekable files work.
std::string read_file_bytes(const std::string& path, const char* kind) {
    // unique_ptr so the file is closed on every path, including throws.
    std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (file == nullptr) {
        const int err = errno;
        TWP_FAIL("cannot open IDX " << kind << " file '" << path << "': " << std::strerror(err)
                                    << "; check the path and its permissions");
    }
    std::string bytes;
    struct stat info {};
    if (::fstat(::fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
        bytes.reserve(size_t(info.st_size));
    }
    std::vector<char> block(1 << 16);
    for (;;) {
        const size_t got = std::fread(block.data(), 1, block.size(), file.get());
        bytes.append(block.data(), got);
        if (got < block.size()) break;
    }
    if (std::ferror(file.get())) {
        const int err = errno;
        TWP_FAIL("error reading IDX " << kind << " file '" << path << "': " << std::strerror(err));
    }
    return bytes;
}

// Reads and checks the magic, then returns the dimension sizes that follow it.
std::vector<uint32_t> read_header(ContentReader& in, uint32_t expected_magic) {
    uint8_t magic_bytes[4];
    const size_t magic_got = in.read(magic_bytes, 4);
    if (magic_got < 4) {
        TWP_FAIL(in.describe() << " is too short to be an IDX file: the " << in.content_name()
                               << " has " << magic_got
                               << " byte(s), fewer than the 4-byte magic number. It is empty or "
                                  "truncated; fetch it again");
    }
    const uint32_t magic = read_be32(magic_bytes);
    const int expected_dims = int(expected_magic & 0xff);
    if (magic != expected_magic) {
        std::string why;
        if (magic_bytes[0] != 0 || magic_bytes[1] != 0) {
            why = "this is not an IDX file (an IDX file starts with two zero bytes)";
        } else if (magic == idx_labels_magic && expected_magic == idx_images_magic) {
            why = "this looks like a labels file (1 dimension) given as images; are the images "
                  "and labels paths swapped?";
        } else if (magic == idx_images_magic && expected_magic == idx_labels_magic) {
            why = "this looks like an images file (3 dimensions) given as labels; are the images "
                  "and labels paths swapped?";
        } else if (magic_bytes[2] != idx_type_unsigned_byte) {
            std::ostringstream text;
            text << "element type 0x" << std::hex << int(magic_bytes[2])
                 << " is not supported, only unsigned bytes (0x08)";
            why = text.str();
        } else {
            why = "it has " + std::to_string(magic_bytes[3]) + " dimensions, expected " +
                  std::to_string(expected_dims);
        }
        TWP_FAIL(in.describe() << " has the wrong magic number " << hex32(magic) << ", expected "
                               << hex32(expected_magic) << ": " << why);
    }
    const size_t dims_bytes = 4 * size_t(expected_dims);
    std::vector<uint8_t> raw_dims(dims_bytes);
    const size_t dims_got = in.read(raw_dims.data(), dims_bytes);
    if (dims_got < dims_bytes) {
        TWP_FAIL(in.describe() << " has a truncated header: it needs " << 4 + dims_bytes
                               << " bytes (magic and " << expected_dims
                               << " dimension sizes) but the " << in.content_name() << " has only "
                               << 4 + dims_got << ". Fetch it again");
    }
    std::vector<uint32_t> dims(expected_dims);
    for (int d = 0; d < expected_dims; ++d) dims[d] = read_be32(raw_dims.data() + 4 * d);
    return dims;
}

// Reads exactly data_bytes of element data after a header_bytes-long header, then checks that
// nothing follows. `shape` says in words what the header promised, for the messages.
std::vector<uint8_t> read_body(ContentReader& in, uint64_t header_bytes, uint64_t data_bytes,
                               const std::string& shape) {
    // Growing steps (64 KiB, then doubling up to 64 MiB): memory grows only as fast as real data
    // arrives (decompressed data's length is unknown until it ends), and at most twice that.
    constexpr size_t first_step_bytes = size_t(64) << 10;
    constexpr size_t max_step_bytes = size_t(64) << 20;
    std::vector<uint8_t> data;
    // A raw file's bytes are all there already: one allocation of exactly what is present.
    data.reserve(size_t(std::min<uint64_t>(data_bytes, in.known_available())));
    uint64_t got = 0;
    while (got < data_bytes) {
        const uint64_t step_bytes =
            std::min<uint64_t>(max_step_bytes, std::max<uint64_t>(first_step_bytes, got));
        const size_t step = size_t(std::min<uint64_t>(step_bytes, data_bytes - got));
        data.resize(size_t(got) + step);
        const size_t n = in.read(data.data() + got, step);
        got += n;
        if (n < step) break;
    }
    const uint64_t expected_total = header_bytes + data_bytes;
    if (got < data_bytes) {
        TWP_FAIL(in.describe() << " is truncated: its header says " << shape << ", so the "
                               << in.content_name() << " should be " << expected_total
                               << " bytes, but it has " << header_bytes + got
                               << ". Fetch it again");
    }
    std::vector<uint8_t> scratch(1 << 16);
    uint64_t extra = 0;
    for (;;) {
        const size_t n = in.read(scratch.data(), scratch.size());
        extra += n;
        if (n < scratch.size()) break;
    }
    if (extra > 0) {
        TWP_FAIL(in.describe() << " is longer than its header says: the header says " << shape
                               << ", so the " << in.content_name() << " should be "
                               << expected_total << " bytes, but it has " << expected_total + extra
                               << " (" << extra << " extra). The file is corrupt or its header "
                               << "does not describe it; fetch it again");
    }
    return data;
}

}  // namespace

IdxImages decode_idx_images(std::string_view bytes, const std::string& name) {
    ContentReader in(bytes, name, "images");
    const std::vector<uint32_t> dims = read_header(in, idx_images_magic);
    const uint32_t count = dims[0], rows = dims[1], cols = dims[2];
    if (count == 0 || rows == 0 || cols == 0) {
        TWP_FAIL(in.describe() << " has a zero dimension: count x rows x cols = " << count << " x "
                               << rows << " x " << cols << "; the header is corrupt");
    }
    if (rows > uint32_t(idx_max_image_side) || cols > uint32_t(idx_max_image_side)) {
        TWP_FAIL(in.describe() << " has an absurd image size " << rows << " x " << cols
                               << " (at most " << idx_max_image_side
                               << " per side is accepted); the header is corrupt");
    }
    // rows * cols <= 2^24 and count < 2^32, so this cannot overflow today; the check keeps it so
    // if the bounds above are ever raised.
    const uint64_t image_bytes = uint64_t(rows) * cols;
    if (count > uint64_t(std::numeric_limits<int64_t>::max()) / image_bytes) {
        TWP_FAIL(in.describe() << " claims " << count << " images of " << rows << " x " << cols
                               << ", more bytes than fit in 64 bits; the header is corrupt");
    }
    std::ostringstream shape;
    shape << count << " images of " << rows << " x " << cols;
    IdxImages images;
    images.count = int64_t(count);
    images.rows = int(rows);
    images.cols = int(cols);
    images.pixels = read_body(in, 16, uint64_t(count) * image_bytes, shape.str());
    return images;
}

std::vector<uint8_t> decode_idx_labels(std::string_view bytes, const std::string& name) {
    ContentReader in(bytes, name, "labels");
    const std::vector<uint32_t> dims = read_header(in, idx_labels_magic);
    const uint32_t count = dims[0];
    if (count == 0) {
        TWP_FAIL(in.describe() << " has zero labels; the header is corrupt or the file is empty");
    }
    std::vector<uint8_t> labels =
        read_body(in, 8, count, std::to_string(count) + " labels");
    for (size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] > 9) {
            TWP_FAIL(in.describe() << " has label " << int(labels[i]) << " at index " << i
                                   << ", expected a class 0..9; is this really an MNIST-style "
                                      "labels file?");
        }
    }
    return labels;
}

IdxImages read_idx_images(const std::string& path) {
    return decode_idx_images(read_file_bytes(path, "images"), path);
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
    return decode_idx_labels(read_file_bytes(path, "labels"), path);
}

}  // namespace twp
