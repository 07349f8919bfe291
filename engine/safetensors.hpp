// The safetensors file format (https://github.com/huggingface/safetensors), so checkpoints and
// weight snapshots open directly in PyTorch/numpy. Layout of a file:
//   [8 bytes] N, the header length, unsigned 64-bit little-endian
//   [N bytes] UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]}, plus an optional "__metadata__": {string: string};
//             we pad it with trailing spaces so the data buffer starts 8-byte aligned, as the
//             reference (Rust) writer does
//   [rest]    the data buffer; offsets are relative to its start; each tensor is contiguous,
//             row-major (last dimension fastest), little-endian; tensors do not overlap and
//             together cover the buffer exactly
// Integrity: every file twp writes (save_safetensors) carries "twp.crc32" in __metadata__, the
// CRC-32 of the whole data buffer (zlib's crc32, the gzip/PNG polynomial) as 8 lowercase hex
// digits. The decoder verifies it when present and rejects a mismatch as a corrupt file. Files
// without it (written by PyTorch, the Python safetensors package, anything else) still load, with
// the structural checks only: the format has no checksum of its own, and refusing them would lose
// interoperability. The checksum covers the data, not the header; a damaged header is caught by
// the structural checks (JSON, dtypes, shapes, offsets) or, for metadata values, not at all.
// The whole file is held in memory (read fully, decoded into copies); fine for our model sizes.
// Precondition: a little-endian host (checked at compile time), since bytes are copied as-is.
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace twp {

// The element types twp reads and writes; the names in the file are "F32", "F64", "I32", "I64",
// "U8". Other safetensors dtypes (F16, BF16, ...) are rejected with a clear error.
enum class DType { F32, F64, I32, I64, U8 };

const char* dtype_name(DType dtype);  // "F32", ...
size_t dtype_size(DType dtype);       // bytes per element

// One named tensor with its own copy of the data.
struct TensorRecord {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // empty = scalar (one element)
    std::vector<uint8_t> bytes;  // (numel() * dtype_size(dtype)) little-endian, row-major

    int64_t numel() const;  // product of shape; 1 for a scalar
    // Typed views of `bytes`; each throws if dtype differs. The pointers live as long as `bytes`
    // is not resized (std::vector storage is aligned for any fundamental type).
    const float* f32() const;
    const double* f64() const;
    const int32_t* i32() const;
    const int64_t* i64() const;
};

struct SafetensorsFile {
    std::vector<TensorRecord> tensors;            // in header order (the order written)
    std::map<std::string, std::string> metadata;  // the "__metadata__" object
    std::string source;  // where it was decoded from, used in error messages; not written

    // Throws twp::Error naming the tensor, the source and the names present when absent.
    const TensorRecord& at(const std::string& name) const;
    const TensorRecord* find(const std::string& name) const;  // nullptr when absent
};

// The metadata key of the data checksum, and the checksum's text for a data buffer: CRC-32 as
// 8 lowercase hex digits ("00000000" for an empty buffer).
inline constexpr const char* checksum_metadata_key = "twp.crc32";
std::string crc32_hex(std::string_view bytes);

// When encode_safetensors writes the "twp.crc32" entry: `always` (what save_safetensors uses), or
// `if_present`, only when `file.metadata` already has one, so that decode(encode(file)) gives back
// the same metadata. Either way the value written is computed afresh from the tensors, never
// copied from `file.metadata` (a file loaded, changed and encoded again would carry a stale one).
enum class Checksum { if_present, always };

// Serializes to the byte layout above. Header keys: "__metadata__" first (omitted when empty),
// then tensors in the given order, their data packed back to back in the same order. Throws when
// a name is repeated or "__metadata__", or when bytes.size() does not match dtype and shape.
std::string encode_safetensors(const SafetensorsFile& file,
                               Checksum checksum = Checksum::if_present);

// Parses and fully validates `bytes` (never reads out of bounds); every error names
// `source_name_for_errors` and the problem. Tensor entry keys other than dtype/shape/data_offsets
// are ignored, as the reference reader does. A "twp.crc32" entry is verified against the data
// (a mismatch or a malformed value throws) and kept in `metadata`; its absence is accepted.
SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& source_name_for_errors);

// encode (with the checksum) + write_file_atomically: a crash never leaves a truncated checkpoint
// under `path`, and a file damaged later on disk is refused when loaded.
void save_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);
SafetensorsFile load_safetensors(const std::filesystem::path& path);

// Copies numel(shape) elements from `data` (row-major) into a new record.
TensorRecord make_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data);
TensorRecord make_f32_tensor(std::string name, std::vector<int64_t> shape, const float* data);
TensorRecord make_i32_tensor(std::string name, std::vector<int64_t> shape, const int32_t* data);

// The number a metadata entry holds (written as text, as safetensors metadata is): an error naming
// the file when the entry is missing or is not exactly a number of type T.
template <class T>
T metadata_number(const SafetensorsFile& file, const std::string& key) {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end()) TWP_FAIL(file.source << " has no '" << key << "' in its metadata");
    T value{};
    const std::string& text = it->second;
    const auto [stop, status] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (status != std::errc() || stop != text.data() + text.size() || text.empty())
        TWP_FAIL(file.source << ": metadata '" << key << "' is not a number: '" << text << "'");
    return value;
}

}  // namespace twp
