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
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "engine/safetensors.hpp"

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
    CHECK(loaded.metadata == original.metadata);
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
    for (size_t i = 0; i < weight.size(); ++i) CHECK(std::memcmp(&w.f32()[i], &weight[i], 4) == 0);
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
    CHECK(bytes == twp::encode_safetensors(original));
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
