// Tests for the IDX reader (engine/idx) and the dataset loader (experiment/mnist). Every case
// writes small IDX files, raw or gzip, into a fresh temporary folder, and every corrupt case checks
// that the error names the file and says what is wrong. No real dataset is needed.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/idx.hpp"
#include "experiment/mnist.hpp"

namespace fs = std::filesystem;
using Catch::Contains;
using Bytes = std::vector<uint8_t>;

namespace {

// A folder under the system temp dir, unique per object, removed with everything in it.
struct TempDir {
    fs::path path;

    TempDir() {
        std::random_device seed;
        for (;;) {
            path = fs::temp_directory_path() /
                   ("twp_test_idx_" + std::to_string(seed()) + "_" + std::to_string(seed()));
            if (fs::create_directory(path)) break;
        }
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path / name).string(); }
};

void append_be32(Bytes& bytes, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(value >> shift));
}

Bytes images_bytes(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels) {
    Bytes bytes;
    append_be32(bytes, 0x00000803);
    append_be32(bytes, count);
    append_be32(bytes, rows);
    append_be32(bytes, cols);
    bytes.insert(bytes.end(), pixels.begin(), pixels.end());
    return bytes;
}

Bytes labels_bytes(const Bytes& labels) {
    Bytes bytes;
    append_be32(bytes, 0x00000801);
    append_be32(bytes, uint32_t(labels.size()));
    bytes.insert(bytes.end(), labels.begin(), labels.end());
    return bytes;
}

// [count * rows * cols] pixels with a fixed pattern that uses the whole 0..255 range.
Bytes pattern_pixels(size_t n) {
    Bytes pixels(n);
    for (size_t i = 0; i < n; ++i) pixels[i] = uint8_t((i * 37 + 11) % 256);
    return pixels;
}

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    REQUIRE(out.good());
}

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
    gzFile out = gzopen(path.c_str(), "wb");
    REQUIRE(out != nullptr);
    REQUIRE(gzwrite(out, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(out) == Z_OK);
}

}  // namespace

TEST_CASE("IDX reader reads valid raw files", "[idx]") {
    TempDir dir;
    const Bytes pixels = pattern_pixels(3 * 4 * 5);
    write_file(dir.file("images"), images_bytes(3, 4, 5, pixels));
    write_file(dir.file("labels"), labels_bytes({0, 9, 5}));

    const twp::IdxImages images = twp::read_idx_images(dir.file("images"));
    CHECK(images.count == 3);
    CHECK(images.rows == 4);
    CHECK(images.cols == 5);
    CHECK(images.pixels == pixels);
    CHECK(twp::read_idx_labels(dir.file("labels")) == Bytes{0, 9, 5});
}

TEST_CASE("IDX reader rejects missing and unreadable files", "[idx]") {
    TempDir dir;
    SECTION("missing file") {
        const std::string path = dir.file("no-such-file");
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("cannot open") &&
                                Contains("No such file or directory"));
        REQUIRE_THROWS_AS(twp::read_idx_labels(path), twp::Error);
    }
    SECTION("a directory") {
        fs::create_directory(dir.path / "folder");
        const std::string path = dir.file("folder");
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("Is a directory"));
    }
}

TEST_CASE("IDX reader rejects a file too short for the magic", "[idx]") {
    TempDir dir;
    const std::string path = dir.file("short");
    SECTION("two bytes") {
        write_file(path, {0, 0});
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("too short") && Contains("has 2 byte"));
    }
    SECTION("empty") {
        write_file(path, {});
        REQUIRE_THROWS_WITH(twp::read_idx_labels(path),
                            Contains(path) && Contains("too short") && Contains("has 0 byte"));
    }
}

TEST_CASE("IDX reader rejects a wrong magic", "[idx]") {
    TempDir dir;
    const std::string images = dir.file("images");
    const std::string labels = dir.file("labels");
    write_file(images, images_bytes(2, 2, 2, pattern_pixels(8)));
    write_file(labels, labels_bytes({1, 2}));
    SECTION("labels file read as images") {
        REQUIRE_THROWS_WITH(twp::read_idx_images(labels),
                            Contains(labels) && Contains("wrong magic number 0x00000801") &&
                                Contains("expected 0x00000803") &&
                                Contains("labels file (1 dimension) given as images"));
    }
    SECTION("images file read as labels") {
        REQUIRE_THROWS_WITH(twp::read_idx_labels(images),
                            Contains(images) && Contains("wrong magic number 0x00000803") &&
                                Contains("images file (3 dimensions) given as labels"));
    }
    SECTION("not an IDX file at all") {
        const std::string text = dir.file("text");
        write_file(text, {'h', 'e', 'l', 'l', 'o'});
        REQUIRE_THROWS_WITH(twp::read_idx_images(text),
                            Contains(text) && Contains("not an IDX file"));
    }
    SECTION("unsupported element type") {
        const std::string floats = dir.file("floats");
        Bytes bytes = images_bytes(1, 1, 1, {0, 0, 0, 0});
        bytes[2] = 0x0d;  // IDX float
        write_file(floats, bytes);
        REQUIRE_THROWS_WITH(twp::read_idx_images(floats),
                            Contains(floats) && Contains("element type 0xd is not supported"));
    }
}

TEST_CASE("IDX reader rejects a truncated header", "[idx]") {
    TempDir dir;
    const std::string path = dir.file("images");
    Bytes bytes;
    append_be32(bytes, 0x00000803);
    append_be32(bytes, 10);
    append_be32(bytes, 28);  // cols missing
    write_file(path, bytes);
    REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                        Contains(path) && Contains("truncated header") &&
                            Contains("needs 16 bytes") && Contains("has only 12"));

    const std::string labels = dir.file("labels");
    write_file(labels, {0, 0, 8, 1, 0, 0});
    REQUIRE_THROWS_WITH(twp::read_idx_labels(labels),
                        Contains(labels) && Contains("truncated header") &&
                            Contains("needs 8 bytes") && Contains("has only 6"));
}

TEST_CASE("IDX reader rejects data shorter or longer than the header says", "[idx]") {
    TempDir dir;
    const std::string path = dir.file("images");
    SECTION("truncated images") {
        write_file(path, images_bytes(2, 3, 3, pattern_pixels(17)));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("is truncated") &&
                                Contains("2 images of 3 x 3") && Contains("should be 34 bytes") &&
                                Contains("has 33"));
    }
    SECTION("trailing bytes after images") {
        write_file(path, images_bytes(2, 3, 3, pattern_pixels(21)));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("longer than its header says") &&
                                Contains("should be 34 bytes") && Contains("has 37 (3 extra)"));
    }
    SECTION("truncated labels") {
        Bytes bytes = labels_bytes({1, 2, 3, 4});
        bytes.pop_back();
        write_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::read_idx_labels(path),
                            Contains(path) && Contains("is truncated") &&
                                Contains("should be 12 bytes") && Contains("has 11"));
    }
    SECTION("trailing bytes after labels") {
        Bytes bytes = labels_bytes({1, 2, 3, 4});
        bytes.push_back(0);
        write_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::read_idx_labels(path),
                            Contains(path) && Contains("longer than its header says") &&
                                Contains("has 13 (1 extra)"));
    }
    SECTION("a header claiming billions of images") {
        // Must fail as truncated without first allocating what the header claims.
        write_file(path, images_bytes(0xffffffffu, 4096, 4096, pattern_pixels(100)));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("is truncated") && Contains("has 116"));
    }
}

TEST_CASE("IDX reader rejects zero and absurd dimensions", "[idx]") {
    TempDir dir;
    const std::string path = dir.file("bad-dims");
    SECTION("zero rows") {
        write_file(path, images_bytes(5, 0, 28, {}));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("zero dimension") &&
                                Contains("5 x 0 x 28"));
    }
    SECTION("zero images") {
        write_file(path, images_bytes(0, 28, 28, {}));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("zero dimension"));
    }
    SECTION("zero labels") {
        write_file(path, labels_bytes({}));
        REQUIRE_THROWS_WITH(twp::read_idx_labels(path),
                            Contains(path) && Contains("zero labels"));
    }
    SECTION("absurd image size") {
        write_file(path, images_bytes(1, 5000, 28, {}));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("absurd image size 5000 x 28"));
    }
}

TEST_CASE("IDX reader rejects labels outside 0..9", "[idx]") {
    TempDir dir;
    const std::string path = dir.file("labels");
    write_file(path, labels_bytes({0, 9, 3, 10, 4}));
    REQUIRE_THROWS_WITH(twp::read_idx_labels(path),
                        Contains(path) && Contains("label 10 at index 3") &&
                            Contains("expected a class 0..9"));
}

TEST_CASE("load_image_set rejects image and label counts that differ", "[idx]") {
    TempDir dir;
    const std::string images = dir.file("images");
    const std::string labels = dir.file("labels");
    write_file(images, images_bytes(3, 2, 2, pattern_pixels(12)));
    write_file(labels, labels_bytes({1, 2, 3, 4}));
    REQUIRE_THROWS_WITH(twp::load_image_set(images, labels, twp::mnist_mean, twp::mnist_std),
                        Contains(images) && Contains(labels) && Contains("has 3 images") &&
                            Contains("has 4 labels"));
}

TEST_CASE("IDX reader reads gzip files the same as raw ones", "[idx]") {
    TempDir dir;
    // Large enough that inflate needs several input blocks and output chunks.
    const Bytes images_raw = images_bytes(300, 28, 28, pattern_pixels(300 * 28 * 28));
    Bytes labels_list(300);
    for (size_t i = 0; i < labels_list.size(); ++i) labels_list[i] = uint8_t(i * 7 % 10);
    const Bytes labels_raw = labels_bytes(labels_list);
    write_file(dir.file("images"), images_raw);
    write_file(dir.file("labels"), labels_raw);
    write_gzip(dir.file("images.gz"), images_raw);
    write_gzip(dir.file("labels.gz"), labels_raw);

    const twp::IdxImages raw = twp::read_idx_images(dir.file("images"));
    const twp::IdxImages gz = twp::read_idx_images(dir.file("images.gz"));
    CHECK(gz.count == raw.count);
    CHECK(gz.rows == raw.rows);
    CHECK(gz.cols == raw.cols);
    CHECK(gz.pixels == raw.pixels);
    CHECK(twp::read_idx_labels(dir.file("labels.gz")) == labels_list);

    SECTION("gzip detected by content, not by name") {
        write_gzip(dir.file("images-no-suffix"), images_raw);
        CHECK(twp::read_idx_images(dir.file("images-no-suffix")).pixels == raw.pixels);
    }
    SECTION("several gzip members back to back, as `cat a.gz b.gz` makes") {
        const size_t half = images_raw.size() / 2;
        write_gzip(dir.file("first.gz"), Bytes(images_raw.begin(), images_raw.begin() + half));
        write_gzip(dir.file("second.gz"), Bytes(images_raw.begin() + half, images_raw.end()));
        Bytes joined = read_file(dir.file("first.gz"));
        const Bytes second = read_file(dir.file("second.gz"));
        joined.insert(joined.end(), second.begin(), second.end());
        write_file(dir.file("joined.gz"), joined);
        CHECK(twp::read_idx_images(dir.file("joined.gz")).pixels == raw.pixels);
    }
    SECTION("through load_image_set") {
        const twp::ImageSet from_raw = twp::load_image_set(
            dir.file("images"), dir.file("labels"), twp::mnist_mean, twp::mnist_std);
        const twp::ImageSet from_gz = twp::load_image_set(
            dir.file("images.gz"), dir.file("labels.gz"), twp::mnist_mean, twp::mnist_std);
        CHECK(from_gz.pixels == from_raw.pixels);
        CHECK(from_gz.labels == from_raw.labels);
    }
}

TEST_CASE("IDX reader rejects damaged gzip files", "[idx]") {
    TempDir dir;
    const Bytes images_raw = images_bytes(50, 28, 28, pattern_pixels(50 * 28 * 28));
    const std::string good = dir.file("good.gz");
    write_gzip(good, images_raw);
    const Bytes compressed = read_file(good);
    REQUIRE(compressed.size() > 100);
    const std::string path = dir.file("damaged.gz");

    SECTION("truncated gzip, end marker cut off") {
        write_file(path, Bytes(compressed.begin(), compressed.end() - 5));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("(gzip) is truncated") &&
                                Contains("before the end of the gzip stream"));
    }
    SECTION("truncated gzip, cut in the middle") {
        write_file(path, Bytes(compressed.begin(), compressed.begin() + compressed.size() / 2));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("(gzip) is truncated"));
    }
    SECTION("corrupt compressed data") {
        Bytes bytes = compressed;
        for (size_t i = 0; i < 8; ++i) bytes[bytes.size() / 2 + i] ^= 0x5a;
        write_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("(gzip) is corrupt"));
    }
    SECTION("garbage after the gzip stream") {
        Bytes bytes = compressed;
        bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
        write_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("non-gzip bytes follow"));
    }
    SECTION("complete gzip of a truncated IDX file") {
        write_gzip(path, Bytes(images_raw.begin(), images_raw.end() - 1));
        REQUIRE_THROWS_WITH(twp::read_idx_images(path),
                            Contains(path) && Contains("is truncated") &&
                                Contains("decompressed content should be 39216 bytes") &&
                                Contains("has 39215"));
    }
}

TEST_CASE("load_image_set normalizes as torchvision does", "[idx]") {
    TempDir dir;
    write_file(dir.file("images"), images_bytes(1, 1, 3, {0, 255, 128}));
    write_file(dir.file("labels"), labels_bytes({7}));
    const twp::ImageSet set =
        twp::load_image_set(dir.file("images"), dir.file("labels"), 0.1307f, 0.3081f);
    REQUIRE(set.count == 1);
    REQUIRE(set.rows == 1);
    REQUIRE(set.cols == 3);
    REQUIRE(set.pixels.size() == 3);
    CHECK(set.pixels[0] == Approx(-0.1307 / 0.3081).margin(1e-6));
    CHECK(set.pixels[1] == Approx((1.0 - 0.1307) / 0.3081).margin(1e-6));
    CHECK(set.pixels[2] == Approx((128.0 / 255.0 - 0.1307) / 0.3081).margin(1e-6));
    CHECK(set.labels == std::vector<int32_t>{7});

    REQUIRE_THROWS_WITH(
        twp::load_image_set(dir.file("images"), dir.file("labels"), 0.1307f, 0.0f),
        Contains(dir.file("images")) && Contains("positive std"));
}

TEST_CASE("load_dataset finds, checks and reports data files", "[idx]") {
    TempDir dir;
    const std::string data_dir = dir.path.string();
    const Bytes train_labels = {1, 2, 3, 4};
    const Bytes test_labels = {5, 6};
    auto write_all = [&](uint32_t test_side) {
        write_file(dir.file("train-images-idx3-ubyte"), images_bytes(4, 5, 5, pattern_pixels(100)));
        write_file(dir.file("train-labels-idx1-ubyte"), labels_bytes(train_labels));
        write_gzip(dir.file("t10k-images-idx3-ubyte.gz"),
                   images_bytes(2, test_side, test_side,
                                pattern_pixels(2 * test_side * test_side)));
        write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), labels_bytes(test_labels));
    };

    SECTION("unknown dataset") {
        REQUIRE_THROWS_WITH(twp::load_dataset(data_dir, "cifar10"),
                            Contains("unknown dataset 'cifar10'") &&
                                Contains("mnist, fashion-mnist"));
    }
    SECTION("missing files name the paths and the fetch command") {
        write_file(dir.file("train-images-idx3-ubyte"), images_bytes(4, 5, 5, pattern_pixels(100)));
        REQUIRE_THROWS_WITH(twp::load_dataset(data_dir, "fashion-mnist"),
                            Contains("3 of 4 data files missing") &&
                                Contains(dir.file("t10k-labels-idx1-ubyte")) &&
                                Contains("tools/fetch-data.sh --dataset fashion-mnist") &&
                                Contains("--data-dir " + data_dir));
    }
    SECTION("a missing directory is called out") {
        const std::string missing_dir = dir.file("not-here");
        REQUIRE_THROWS_WITH(twp::load_dataset(missing_dir, "mnist"),
                            Contains("'" + missing_dir + "' does not exist") &&
                                Contains("tools/fetch-data.sh --dataset mnist --data-dir " +
                                         missing_dir));
    }
    SECTION("raw and gzip files mixed; raw preferred over .gz") {
        write_all(5);
        // A .gz twin with different labels must be ignored in favour of the raw file.
        write_gzip(dir.file("train-labels-idx1-ubyte.gz"), labels_bytes({9, 9, 9, 9}));
        const twp::Dataset data = twp::load_dataset(data_dir, "mnist");
        CHECK(data.name == "mnist");
        CHECK(data.mean == twp::mnist_mean);
        CHECK(data.std == twp::mnist_std);
        CHECK(data.train.count == 4);
        CHECK(data.test.count == 2);
        CHECK(data.train.labels == std::vector<int32_t>{1, 2, 3, 4});
        CHECK(data.test.labels == std::vector<int32_t>{5, 6});
        CHECK(data.train.pixels.size() == 4 * 5 * 5);
    }
    SECTION("fashion-mnist uses its own normalization") {
        write_all(5);
        const twp::Dataset data = twp::load_dataset(data_dir, "fashion-mnist");
        CHECK(data.mean == twp::fashion_mnist_mean);
        CHECK(data.std == twp::fashion_mnist_std);
        const float first = (float(pattern_pixels(1)[0]) / 255.0f - 0.2860f) / 0.3530f;
        CHECK(data.train.pixels[0] == first);
    }
    SECTION("train and test image sizes differ") {
        write_all(6);
        REQUIRE_THROWS_WITH(twp::load_dataset(data_dir, "mnist"),
                            Contains("5 x 5") && Contains("6 x 6") &&
                                Contains("same image size") &&
                                Contains(dir.file("t10k-images-idx3-ubyte.gz")));
    }
}

TEST_CASE("IDX decoders read file bytes held in memory, raw or gzip", "[idx]") {
    TempDir dir;
    const Bytes pixels = pattern_pixels(2 * 3 * 4);
    const Bytes images_raw = images_bytes(2, 3, 4, pixels);
    write_gzip(dir.file("images.gz"), images_raw);
    write_gzip(dir.file("labels.gz"), labels_bytes({4, 2}));
    auto view = [](const Bytes& bytes) {
        return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    };

    for (const Bytes& stored : {images_raw, read_file(dir.file("images.gz"))}) {
        const twp::IdxImages images = twp::decode_idx_images(view(stored), "in-memory");
        CHECK(images.count == 2);
        CHECK(images.rows == 3);
        CHECK(images.cols == 4);
        CHECK(images.pixels == pixels);
    }
    CHECK(twp::decode_idx_labels(view(read_file(dir.file("labels.gz"))), "mem") == Bytes{4, 2});
    REQUIRE_THROWS_WITH(twp::decode_idx_labels(view(Bytes{0, 0, 8}), "labels in memory"),
                        Contains("'labels in memory'") && Contains("has 3 byte"));
    // A gzip file that claims billions of images but inflates to a few bytes must fail as
    // truncated without allocating what it claims.
    write_gzip(dir.file("huge-claim.gz"), images_bytes(0xffffffffu, 4096, 4096, pixels));
    REQUIRE_THROWS_WITH(twp::decode_idx_images(view(read_file(dir.file("huge-claim.gz"))), "gz"),
                        Contains("(gzip) is truncated") && Contains("has 40"));
}
