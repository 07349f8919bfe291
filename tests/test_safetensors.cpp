// Tests for the safetensors reader/writer and the atomic file writer: round trips through real
// files, the byte layout checked by hand against the specification, every malformed-file case the
// decoder must reject (each message must name the problem and the file), and the failure paths
// of write_file_atomically (missing directory, target is a directory, a write that fails midway).
// Files go to a fresh directory under the system temp dir, removed at the end of each test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "engine/safetensors.hpp"
#include "experiment/lenet5.hpp"
#include "tests/check.hpp"
#include "experiment/snapshots.hpp"

namespace {

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

// A fresh empty directory, removed with everything in it when the test ends.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag) {
        path = fs::temp_directory_path() /
               ("twp_test_" + tag + "_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        ::chmod(path.c_str(), 0755);  // in case a test made it read-only
        fs::remove_all(path, ignored);
    }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
};

std::string read_whole_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_raw_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// A safetensors image built by hand: 8-byte little-endian length, header text, data buffer.
std::string with_header(const std::string& header_json, const std::string& buffer) {
    std::string out;
    uint64_t length = header_json.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    return out + header_json + buffer;
}

std::string with_length(uint64_t length, const std::string& rest) {
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    return out + rest;
}

const std::string bad_name = "bad.safetensors";

void require_rejected(const std::string& bytes, const std::string& problem) {
    INFO("expected the decoder to reject with: " << problem);
    // Anything other than twp::Error (an nlohmann or std exception) escapes and fails the test.
    try {
        twp::decode_safetensors(bytes, bad_name);
        FAIL("the decoder accepted a malformed file");
    } catch (const twp::Error& error) {
        CHECK_THAT(std::string(error.what()), Contains(problem) && Contains(bad_name));
    }
}

}  // namespace

TEST_CASE("safetensors round trip through a file keeps names, order, dtypes, shapes, data, metadata",
          "[safetensors]") {
    TempDir dir("st_roundtrip");
    const fs::path path = dir.path / "model.safetensors";

    const std::vector<float> weight = {0.5f, -1.25f, 3.0f, 1e-30f, -0.0f, 65504.0f};  // (2, 3)
    const std::vector<int32_t> labels = {7, -3, 2147483647, -2147483647 - 1};        // (4)
    const double scalar = 3.141592653589793;                                          // ()
    const std::vector<int64_t> steps = {int64_t{1} << 40, -5};                        // (2)
    const std::vector<uint8_t> pixels = {0, 17, 255};                                 // (3)

    twp::SafetensorsFile original;
    // Names deliberately not sorted: the header must keep the order given.
    original.tensors.push_back(twp::make_f32_tensor("z.weight", {2, 3}, weight.data()));
    original.tensors.push_back(twp::make_i32_tensor("labels", {4}, labels.data()));
    original.tensors.push_back(twp::make_tensor("empty", twp::DType::F32, {0, 5}, nullptr));
    original.tensors.push_back(twp::make_tensor("pi", twp::DType::F64, {}, &scalar));
    original.tensors.push_back(twp::make_tensor("steps", twp::DType::I64, {2}, steps.data()));
    original.tensors.push_back(twp::make_tensor("pixels", twp::DType::U8, {3}, pixels.data()));
    original.metadata = {{"format", "pt"}, {"step", "1200"}, {"note", "ünïcode ok"}};

    twp::save_safetensors(path, original);
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});  // no temp left

    const twp::SafetensorsFile loaded = twp::load_safetensors(path);
    // The metadata given, plus the data checksum save_safetensors adds (verified by the load).
    std::map<std::string, std::string> expected_metadata = original.metadata;
    REQUIRE(loaded.metadata.count("twp.crc32") == 1);
    expected_metadata["twp.crc32"] = loaded.metadata.at("twp.crc32");
    CHECK(loaded.metadata == expected_metadata);
    CHECK(loaded.source == path.string());
    REQUIRE(loaded.tensors.size() == original.tensors.size());
    for (size_t i = 0; i < original.tensors.size(); ++i) {
        INFO("tensor " << original.tensors[i].name);
        CHECK(loaded.tensors[i].name == original.tensors[i].name);
        CHECK(loaded.tensors[i].dtype == original.tensors[i].dtype);
        CHECK(loaded.tensors[i].shape == original.tensors[i].shape);
        CHECK(loaded.tensors[i].bytes == original.tensors[i].bytes);
    }

    const twp::TensorRecord& w = loaded.at("z.weight");
    CHECK(w.numel() == 6);
    twp::test::require_same_bits(std::vector<float>(w.f32(), w.f32() + weight.size()), weight, "z.weight");
    CHECK(loaded.at("labels").i32()[3] == labels[3]);
    CHECK(loaded.at("pi").numel() == 1);
    CHECK(loaded.at("pi").f64()[0] == scalar);
    CHECK(loaded.at("steps").i64()[0] == steps[0]);
    CHECK(loaded.at("empty").numel() == 0);
    CHECK(loaded.at("empty").bytes.empty());

    // The data buffer starts 8-byte aligned, as the reference writer guarantees.
    const std::string bytes = read_whole_file(path);
    uint64_t header_length = 0;
    std::memcpy(&header_length, bytes.data(), 8);
    CHECK((8 + header_length) % 8 == 0);
    CHECK(bytes == twp::encode_safetensors(original, twp::Checksum::always));
}

TEST_CASE("safetensors byte layout matches the specification", "[safetensors]") {
    const float values[] = {1.0f, -2.0f};
    twp::SafetensorsFile file;
    file.tensors.push_back(twp::make_f32_tensor("a", {2}, values));
    file.metadata = {{"k", "v"}};
    const std::string bytes = twp::encode_safetensors(file);

    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
    CHECK((8 + n) % 8 == 0);
    REQUIRE(bytes.size() == 8 + n + 8);

    const std::string header = bytes.substr(8, n);
    const std::string expected =
        R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    CHECK(header.substr(0, expected.size()) == expected);
    CHECK(header.find_first_not_of(' ', expected.size()) == std::string::npos);  // only padding
    CHECK(header.size() - expected.size() < 8);
    CHECK_NOTHROW(nlohmann::json::parse(header));

    const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    CHECK(std::memcmp(bytes.data() + 8 + n, data, 8) == 0);

    // An empty file is legal: header "{}" padded, no data.
    const std::string empty = twp::encode_safetensors({});
    CHECK(empty.size() == 16);
    CHECK(empty.substr(8) == "{}      ");
    CHECK(twp::decode_safetensors(empty, "empty").tensors.empty());
}

TEST_CASE("safetensors decoder rejects malformed files with clear messages", "[safetensors]") {
    const std::string four(4, '\0');
    const std::string eight(8, '\0');
    const std::string twelve(12, '\0');
    auto one = [](const std::string& entry) { return R"({"a":)" + entry + "}"; };

    SECTION("too short for the length prefix") {
        require_rejected("", "shorter than 8 bytes");
        require_rejected(std::string(7, '\0'), "shorter than 8 bytes");
    }
    SECTION("header length beyond the file") {
        require_rejected(with_length(100, "{}"), "extends past the end of the file");
    }
    SECTION("header length above 100 MB") {
        require_rejected(with_length(200'000'000, "{}"), "exceeds the 100000000-byte limit");
        require_rejected(with_length(~uint64_t{0}, "{}"), "exceeds the 100000000-byte limit");
    }
    SECTION("malformed JSON") {
        require_rejected(with_header(R"({"a":)", ""), "not valid JSON");
        require_rejected(with_header("", ""), "not valid JSON");
        require_rejected(with_header("{\"\xff\":1}", ""), "not valid JSON");  // invalid UTF-8
    }
    SECTION("header is not an object") {
        require_rejected(with_header("[1,2]", ""), "not a JSON object");
        require_rejected(with_header(one("3"), ""), "header entry is not a JSON object");
    }
    SECTION("missing or mistyped fields") {
        require_rejected(with_header(one(R"({"shape":[1],"data_offsets":[0,4]})"), four),
                         "missing \"dtype\"");
        require_rejected(with_header(one(R"({"dtype":5,"shape":[1],"data_offsets":[0,4]})"), four),
                         "\"dtype\" must be a string");
        require_rejected(with_header(one(R"({"dtype":"F32","data_offsets":[0,4]})"), four),
                         "missing \"shape\"");
        require_rejected(with_header(one(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})"), four),
                         "\"shape\" must be an array");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), four),
            "\"shape\" must contain integers");
        require_rejected(with_header(one(R"({"dtype":"F32","shape":[1]})"), four),
                         "missing \"data_offsets\"");
        require_rejected(with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4]})"), four),
                         "\"data_offsets\" must be [begin, end]");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), four),
            "\"data_offsets\" must be [begin, end]");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":["0","4"]})"), four),
            "\"data_offsets\" must be [begin, end]");
    }
    SECTION("unknown dtype") {
        require_rejected(
            with_header(one(R"({"dtype":"BF16","shape":[2],"data_offsets":[0,4]})"), four),
            "unsupported dtype \"BF16\"");
    }
    SECTION("negative or overflowing dimensions") {
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), four),
            "negative dimension -1");
        require_rejected(
            with_header(
                one(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,4]})"),
                four),
            "overflows 64 bits");
    }
    SECTION("shape does not match the offsets") {
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), four),
            "does not match its data_offsets");
        require_rejected(
            with_header(one(R"({"dtype":"F64","shape":[1],"data_offsets":[0,4]})"), four),
            "does not match its data_offsets");
    }
    SECTION("offsets outside the buffer or reversed") {
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), four),
            "out of the data buffer");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,0]})"),
                        four),
            "begin > end");
    }
    SECTION("overlap, gap and trailing bytes") {
        require_rejected(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     twelve),
                         "overlaps tensor \"a\"");
        require_rejected(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                     twelve),
                         "gap in the data buffer");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), eight),
            "gap in the data buffer");
        require_rejected(
            with_header(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), eight),
            "not covered by any tensor");
        require_rejected(with_header("{}", four), "not covered by any tensor");
    }
    SECTION("metadata must map strings to strings") {
        require_rejected(with_header(R"({"__metadata__":{"k":1}})", ""),
                         "metadata value of \"k\" must be a string");
        require_rejected(with_header(R"({"__metadata__":["k"]})", ""),
                         "\"__metadata__\" must be an object");
    }
    SECTION("duplicate names") {
        require_rejected(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     eight),
                         "duplicate tensor name \"a\"");
        require_rejected(
            with_header(one(R"({"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]})"),
                        four),
            "duplicate key \"dtype\"");
    }
    SECTION("well-formed variants are accepted") {
        // Zero-size tensors at a boundary, a scalar, whitespace padding, unknown extra keys.
        const std::string header =
            R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
            R"("z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4],"extra":1},)"
            R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}   )";
        const twp::SafetensorsFile file = twp::decode_safetensors(with_header(header, eight), "ok");
        REQUIRE(file.tensors.size() == 3);
        CHECK(file.tensors[0].name == "s");
        CHECK(file.tensors[1].numel() == 0);
        CHECK(file.tensors[2].bytes.size() == 4);
    }
}

TEST_CASE("safetensors API errors name the tensor and the file", "[safetensors]") {
    const float values[] = {1.0f, 2.0f};
    twp::SafetensorsFile file =
        twp::decode_safetensors(twp::encode_safetensors({{twp::make_f32_tensor("w", {2}, values)}, {}, ""}),
                                "weights.safetensors");
    REQUIRE_THROWS_WITH(file.at("bias"), Contains("no tensor named \"bias\"") &&
                                             Contains("weights.safetensors") && Contains("w"));
    CHECK(file.find("bias") == nullptr);
    REQUIRE_THROWS_WITH(file.at("w").i32(), Contains("\"w\" has dtype F32, not I32"));

    twp::SafetensorsFile duplicate;
    duplicate.tensors = {twp::make_f32_tensor("w", {2}, values), twp::make_f32_tensor("w", {1}, values)};
    REQUIRE_THROWS_WITH(twp::encode_safetensors(duplicate), Contains("\"w\" appears twice"));

    twp::SafetensorsFile reserved;
    reserved.tensors = {twp::make_f32_tensor("__metadata__", {1}, values)};
    REQUIRE_THROWS_WITH(twp::encode_safetensors(reserved), Contains("reserved"));

    twp::SafetensorsFile mismatched;
    mismatched.tensors = {twp::make_f32_tensor("w", {2}, values)};
    mismatched.tensors[0].shape = {3};
    REQUIRE_THROWS_WITH(twp::encode_safetensors(mismatched),
                        Contains("holds 8 bytes but dtype F32 and shape [3] need 12"));

    REQUIRE_THROWS_WITH(twp::make_f32_tensor("n", {2, -1}, values), Contains("negative dimension"));
}

TEST_CASE("load_safetensors reports missing, non-regular and truncated files", "[safetensors]") {
    TempDir dir("st_load");
    const fs::path missing = dir.path / "missing.safetensors";
    REQUIRE_THROWS_WITH(twp::load_safetensors(missing),
                        Contains("cannot open") && Contains(missing.string()) &&
                            Contains("No such file"));
    REQUIRE_THROWS_WITH(twp::load_safetensors(dir.path), Contains("not a regular file"));

    const float values[] = {1.0f, 2.0f};
    std::string bytes = twp::encode_safetensors({{twp::make_f32_tensor("w", {2}, values)}, {}, ""});
    bytes.pop_back();
    const fs::path truncated = dir.path / "truncated.safetensors";
    write_raw_file(truncated, bytes);
    REQUIRE_THROWS_WITH(twp::load_safetensors(truncated),
                        Contains(truncated.string()) && Contains("out of the data buffer"));
}

TEST_CASE("write_file_atomically writes, replaces and leaves no temp file", "[safetensors]") {
    TempDir dir("atomic_ok");
    const fs::path path = dir.path / "out.bin";

    twp::write_file_atomically(path, "old contents, longer than the new ones");
    CHECK(read_whole_file(path) == "old contents, longer than the new ones");
    twp::write_file_atomically(path, std::string("new\0data", 8));
    CHECK(read_whole_file(path) == std::string("new\0data", 8));
    twp::write_file_atomically(path, "");
    CHECK(read_whole_file(path).empty());
    CHECK(dir.entries() == std::vector<std::string>{"out.bin"});

    // A relative path (no parent directory) writes into the working directory.
    const fs::path previous = fs::current_path();
    fs::current_path(dir.path);
    twp::write_file_atomically("relative.bin", "r");
    fs::current_path(previous);
    CHECK(read_whole_file(dir.path / "relative.bin") == "r");
    CHECK(dir.entries() == std::vector<std::string>{"out.bin", "relative.bin"});
}

TEST_CASE("write_file_atomically fails cleanly", "[safetensors]") {
    TempDir dir("atomic_fail");

    SECTION("the directory does not exist") {
        const fs::path path = dir.path / "no_such_dir" / "out.bin";
        REQUIRE_THROWS_WITH(twp::write_file_atomically(path, "data"),
                            Contains(path.string()) && Contains("No such file or directory") &&
                                Contains("check that the directory exists"));
        CHECK_FALSE(fs::exists(dir.path / "no_such_dir"));
        CHECK(dir.entries().empty());
    }
    SECTION("the target is a directory: the rename fails and the temp file is removed") {
        const fs::path path = dir.path / "taken";
        fs::create_directory(path);
        REQUIRE_THROWS_WITH(twp::write_file_atomically(path, "data"),
                            Contains("cannot rename") && Contains(path.string()));
        CHECK(fs::is_directory(path));
        CHECK(dir.entries() == std::vector<std::string>{"taken"});
    }
    SECTION("a write fails midway (file size limit, like a full disk): old file kept intact") {
        const fs::path path = dir.path / "checkpoint.bin";
        twp::write_file_atomically(path, "previous checkpoint");

        // RLIMIT_FSIZE makes write() fail with EFBIG past the limit, a deterministic stand-in for
        // ENOSPC; SIGXFSZ would otherwise kill the process.
        rlimit saved{};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limited = saved;
        limited.rlim_cur = 4096;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
        bool threw = false;
        std::string message;
        try {
            twp::write_file_atomically(path, std::string(1 << 16, 'x'));
        } catch (const twp::Error& error) {
            threw = true;
            message = error.what();
        }
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, saved_handler);

        CHECK(threw);
        CHECK_THAT(message, Contains("cannot write") && Contains(path.string()) &&
                                Contains("File too large") && Contains("free space"));
        CHECK(read_whole_file(path) == "previous checkpoint");
        CHECK(dir.entries() == std::vector<std::string>{"checkpoint.bin"});
    }
    SECTION("a read-only directory") {
        const fs::path locked = dir.path / "locked";
        fs::create_directory(locked);
        ::chmod(locked.c_str(), 0555);
        if (::access(locked.c_str(), W_OK) == 0) {
            WARN("skipped: running as root, a read-only directory is still writable");
        } else {
            REQUIRE_THROWS_WITH(twp::write_file_atomically(locked / "out.bin", "data"),
                                Contains("Permission denied"));
            CHECK(fs::is_empty(locked));
        }
        ::chmod(locked.c_str(), 0755);
    }
}

TEST_CASE("create_directories_checked creates nested directories and explains failures",
          "[safetensors]") {
    TempDir dir("mkdirs");
    const fs::path nested = dir.path / "a" / "b" / "c";
    twp::create_directories_checked(nested);
    CHECK(fs::is_directory(nested));
    twp::create_directories_checked(nested);  // already there: fine

    const fs::path file = dir.path / "plain_file";
    write_raw_file(file, "x");
    REQUIRE_THROWS_WITH(twp::create_directories_checked(file),
                        Contains(file.string()) && Contains("directory"));
    REQUIRE_THROWS_WITH(twp::create_directories_checked(file / "sub"),
                        Contains("cannot create directory") && Contains((file / "sub").string()));
}

namespace {

// The data buffer of a safetensors image (everything after the header), and its CRC-32 computed
// here with zlib directly, independently of twp::crc32_hex.
std::string data_buffer(const std::string& bytes) {
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    REQUIRE(8 + n <= bytes.size());
    return bytes.substr(8 + n);
}

std::string zlib_crc32_hex(const std::string& data) {
    const uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                              static_cast<uInt>(data.size()));
    char text[9];
    std::snprintf(text, sizeof text, "%08lx", crc);
    return text;
}

// A small file with two dtypes, as save_safetensors writes it.
twp::SafetensorsFile small_model() {
    const std::vector<float> weight = {0.25f, -1.5f, 2.0f, 8.0f, -0.125f, 3.5f};
    const std::vector<int32_t> counts = {1, 2, 3};
    twp::SafetensorsFile file;
    file.tensors.push_back(twp::make_f32_tensor("w", {2, 3}, weight.data()));
    file.tensors.push_back(twp::make_i32_tensor("n", {3}, counts.data()));
    file.metadata = {{"format", "test"}};
    return file;
}

// A LeNet-5 snapshot with distinct values, written the way base training writes them.
std::vector<float> snapshot_parameters() {
    std::vector<float> parameters(twp::LeNet5::kParameterCount);
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i] = float(i % 97) * 0.01f - 0.5f;
    return parameters;
}

twp::SnapshotRecord snapshot_record() {
    twp::SnapshotRecord record;
    record.file = twp::snapshot_file_name(1, 1875);
    record.run = 1;
    record.epoch = 1;
    record.step = 1875;
    record.batch_in_epoch = 1875;
    record.epoch_fraction = 1.0;
    record.test_accuracy = 97.5;
    record.test_loss = 0.08;
    record.seed = 42;
    record.dataset = "mnist";
    return record;
}

}  // namespace

TEST_CASE("save_safetensors stores a CRC-32 of the data as 8 lowercase hex digits", "[safetensors]") {
    TempDir dir("st_crc");
    const fs::path path = dir.path / "model.safetensors";
    twp::save_safetensors(path, small_model());
    const std::string bytes = read_whole_file(path);

    const twp::SafetensorsFile loaded = twp::load_safetensors(path);
    REQUIRE(loaded.metadata.count(twp::checksum_metadata_key) == 1);
    const std::string stored = loaded.metadata.at(twp::checksum_metadata_key);
    CHECK(std::regex_match(stored, std::regex("[0-9a-f]{8}")));
    CHECK(stored == zlib_crc32_hex(data_buffer(bytes)));
    CHECK(stored == twp::crc32_hex(data_buffer(bytes)));
    // The entry sits in the header's __metadata__ where any safetensors reader sees it.
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
    CHECK(header["__metadata__"]["twp.crc32"] == stored);
    CHECK(header["__metadata__"]["format"] == "test");

    // Known values: the CRC-32 check value of "123456789", and the empty buffer.
    CHECK(twp::crc32_hex("123456789") == "cbf43926");
    CHECK(twp::crc32_hex("") == "00000000");
    twp::save_safetensors(dir.path / "empty.safetensors", {});
    CHECK(twp::load_safetensors(dir.path / "empty.safetensors").metadata.at("twp.crc32") ==
          "00000000");

    // encode_safetensors: by default an entry only where the metadata had one, so a decoded file
    // encodes back to the same bytes; its value always computed afresh, never copied stale.
    CHECK(twp::encode_safetensors(loaded) == bytes);
    CHECK(twp::encode_safetensors(small_model()).find("twp.crc32") == std::string::npos);
    twp::SafetensorsFile changed = loaded;
    changed.tensors[0].bytes[0] ^= 0x01;
    const std::string re_encoded = twp::encode_safetensors(changed);
    CHECK(twp::decode_safetensors(re_encoded, "changed").metadata.at("twp.crc32") ==
          zlib_crc32_hex(data_buffer(re_encoded)));
    CHECK(twp::decode_safetensors(re_encoded, "changed").metadata.at("twp.crc32") != stored);
    changed.metadata.erase("twp.crc32");
    CHECK(twp::encode_safetensors(changed).find("twp.crc32") == std::string::npos);
    CHECK(twp::encode_safetensors(changed, twp::Checksum::always) == re_encoded);
    // Saving a loaded and changed file recomputes it, so the file loads again.
    twp::save_safetensors(path, changed);
    CHECK(twp::load_safetensors(path).tensors[0].bytes == changed.tensors[0].bytes);
}

TEST_CASE("a checksum mismatch is refused with the file named", "[safetensors]") {
    TempDir dir("st_crc_bad");
    const fs::path path = dir.path / "model.safetensors";
    twp::save_safetensors(path, small_model());
    const std::string good = read_whole_file(path);
    const size_t data_start = good.size() - data_buffer(good).size();

    SECTION("a flipped data byte") {
        std::string bytes = good;
        bytes[data_start + 5] = static_cast<char>(bytes[data_start + 5] ^ 0x10);
        write_raw_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::load_safetensors(path),
                            Contains(path.string()) && Contains("checksum mismatch (stored ") &&
                                Contains(", computed ") &&
                                Contains("the file is corrupt — re-create it"));
    }
    SECTION("a changed checksum digit") {
        std::string bytes = good;
        const size_t at = bytes.find("\"twp.crc32\":\"") + 13;
        bytes[at] = bytes[at] == '0' ? '1' : '0';
        write_raw_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::load_safetensors(path),
                            Contains(path.string()) && Contains("checksum mismatch"));
    }
    SECTION("a malformed checksum value") {
        const std::string header =
            R"({"__metadata__":{"twp.crc32":"CBF43926"},)"
            R"("a":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}})";
        require_rejected(with_header(header, "123456789"), "not 8 lowercase hex digits");
        require_rejected(with_header(R"({"__metadata__":{"twp.crc32":"cbf4392"},)"
                                     R"("a":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}})",
                                     "123456789"),
                         "not 8 lowercase hex digits");
        // The same header with the right lowercase value is accepted.
        CHECK_NOTHROW(twp::decode_safetensors(
            with_header(R"({"__metadata__":{"twp.crc32":"cbf43926"},)"
                        R"("a":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}})",
                        "123456789"),
            "ok"));
    }
    SECTION("every single-byte change of the data is caught; no byte change escapes as another "
            "exception") {
        // Byte by byte through the whole file: a change in the data buffer is always a checksum
        // mismatch; a change in the length or header is refused by the structural checks or, in
        // padding and metadata text, accepted. Either way only twp::Error comes out.
        for (size_t i = 0; i < good.size(); ++i) {
            std::string bytes = good;
            bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
            try {
                twp::decode_safetensors(bytes, bad_name);
                CHECK(i < data_start);  // accepted: only possible in the header
            } catch (const twp::Error& error) {
                if (i >= data_start) {
                    INFO("byte " << i);
                    CHECK_THAT(std::string(error.what()), Contains("checksum mismatch"));
                }
            }
        }
        // Every truncation is refused.
        for (size_t length = 0; length < good.size(); ++length) {
            INFO("truncated to " << length << " bytes");
            CHECK_THROWS_AS(twp::decode_safetensors(good.substr(0, length), bad_name), twp::Error);
        }
    }
}

TEST_CASE("files without a checksum, as PyTorch writes them, still load", "[safetensors]") {
    TempDir dir("st_no_crc");
    // What safetensors.torch.save_file writes: {"__metadata__":{"format":"pt"}, tensors...}.
    const float values[] = {1.0f, -2.0f, 0.5f};
    twp::SafetensorsFile file;
    file.tensors.push_back(twp::make_f32_tensor("fc.weight", {3}, values));
    file.metadata = {{"format", "pt"}};
    const fs::path path = dir.path / "torch.safetensors";
    write_raw_file(path, twp::encode_safetensors(file));  // no "twp.crc32" given: none written
    const twp::SafetensorsFile loaded = twp::load_safetensors(path);
    CHECK(loaded.metadata == std::map<std::string, std::string>{{"format", "pt"}});
    CHECK(loaded.at("fc.weight").bytes == file.tensors[0].bytes);
    // No metadata at all.
    write_raw_file(path, with_header(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                     std::string(4, '\0')));
    CHECK(twp::load_safetensors(path).metadata.empty());
}

TEST_CASE("read_snapshot refuses corrupt snapshots and files that are not LeNet-5's",
          "[safetensors][snapshots]") {
    TempDir dir("st_snapshot");
    const std::vector<float> parameters = snapshot_parameters();
    const twp::SnapshotRecord record = snapshot_record();
    const fs::path path = dir.path / record.file;
    twp::write_snapshot(path, record, parameters);
    REQUIRE(twp::read_snapshot(path) == parameters);
    const std::string good = read_whole_file(path);

    SECTION("a flipped data byte (bit rot, a bad copy)") {
        std::string bytes = good;
        bytes[bytes.size() - 1000] = static_cast<char>(bytes[bytes.size() - 1000] ^ 0x01);
        write_raw_file(path, bytes);
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("checksum mismatch") &&
                                Contains("re-create it"));
    }
    SECTION("truncated") {
        write_raw_file(path, good.substr(0, good.size() / 2));
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("out of the data buffer"));
    }
    // The layout and flat offsets of LeNet-5's tensors, to build near-misses from.
    const twp::ParamLayout& layout = twp::LeNet5::layout();
    const auto lenet_file = [&](const std::string& renamed_from, const std::string& renamed_to,
                                const std::string& reshaped, std::vector<int64_t> new_shape) {
        twp::SafetensorsFile file;
        for (const twp::ParamEntry& e : layout.entries()) {
            std::vector<int64_t> shape(e.shape.dims.begin(), e.shape.dims.begin() + e.shape.rank);
            if (e.name == reshaped) shape = new_shape;
            file.tensors.push_back(twp::make_f32_tensor(e.name == renamed_from ? renamed_to : e.name,
                                                        shape, parameters.data() + e.offset));
        }
        return file;
    };
    SECTION("a tensor name that is not LeNet-5's") {
        twp::save_safetensors(path, lenet_file("fc3.bias", "fc3.b", "", {}));
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("no tensor named \"fc3.bias\""));
    }
    SECTION("a shape that is not LeNet-5's, same element count") {
        twp::save_safetensors(path, lenet_file("", "", "fc3.bias", {2, 5}));
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("fc3.bias") &&
                                Contains("LeNet-5"));
    }
    SECTION("a tensor too many or too few") {
        twp::SafetensorsFile file = lenet_file("", "", "", {});
        const float extra = 1.0f;
        file.tensors.push_back(twp::make_f32_tensor("extra", {1}, &extra));
        twp::save_safetensors(path, file);
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("LeNet-5"));
        file.tensors.pop_back();
        file.tensors.pop_back();
        twp::save_safetensors(path, file);
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("LeNet-5"));
    }
    SECTION("another dtype") {
        twp::SafetensorsFile file = lenet_file("", "", "", {});
        for (twp::TensorRecord& t : file.tensors) {
            if (t.name == "fc3.bias") t = twp::make_i32_tensor("fc3.bias", {10},
                                                               std::vector<int32_t>(10).data());
        }
        twp::save_safetensors(path, file);
        REQUIRE_THROWS_WITH(twp::read_snapshot(path),
                            Contains(path.string()) && Contains("fc3.bias") && Contains("I32"));
    }
}

TEST_CASE("safetensors decoder refuses a deeply nested header instead of overflowing the stack",
          "[safetensors]") {
    // Found by feeding the fuzz target tests/fuzz/fuzz_safetensors.cpp a deep header (its random
    // inputs are too short to nest that deep): 60,000 nested brackets in "shape", a 120 KB file,
    // crashed the decoder with a stack overflow, since nlohmann copies and prints JSON recursively.
    const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
    require_rejected(with_header(R"({"x":{"dtype":"U8","shape":)" + deep +
                                     R"(,"data_offsets":[0,0]}})", ""),
                     "nests deeper than 128 levels");
    require_rejected(with_header(R"({"__metadata__":{"k":)" + deep + "}}", ""),
                     "nests deeper than 128 levels");
    // Nesting that serde_json (the reference reader) accepts is accepted inside ignored keys.
    const std::string shallow = std::string(100, '[') + std::string(100, ']');
    const twp::SafetensorsFile file = twp::decode_safetensors(
        with_header(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":)" + shallow +
                        "}}",
                    "a"),
        "nested");
    REQUIRE(file.tensors.size() == 1);
}
