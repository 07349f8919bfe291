// safetensors encoder/decoder (layout in safetensors.hpp). The decoder trusts nothing: every
// length and offset from the file is checked against the bytes actually present before use, and
// the validation follows the reference implementation (tensors sorted by offset must tile the
// data buffer exactly, header at most 100 MB). On top of the format, save_safetensors stores a
// CRC-32 of the data buffer in the metadata ("twp.crc32") and the decoder verifies it when present,
// so a file damaged on disk after it was written is refused rather than silently used.
#include "engine/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"

// Tensor bytes are copied between the file and memory unchanged, which is only right when the
// host's byte order is the file's.
static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; twp copies it unchanged");

namespace twp {
namespace {

using OrderedJson = nlohmann::ordered_json;

// The reference implementation's limit; a larger "header length" means a corrupt or foreign file,
// and refusing it early avoids trying to allocate gigabytes for it.
constexpr uint64_t max_header_bytes = 100'000'000;
// nlohmann copies and prints JSON recursively, one stack frame per level, so a header of a few
// hundred KB of nested brackets would overflow the stack. serde_json, which the reference reader
// uses, stops at 128 levels; so do we (a valid header needs 3).
constexpr int max_header_depth = 128;
constexpr size_t length_prefix_bytes = 8;
constexpr const char* metadata_key = "__metadata__";

constexpr DType all_dtypes[] = {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8};

bool parse_dtype(const std::string& text, DType& dtype) {
    for (DType candidate : all_dtypes) {
        if (text == dtype_name(candidate)) {
            dtype = candidate;
            return true;
        }
    }
    return false;
}

// Element count of `shape` with overflow and sign checks; `what` names the tensor for errors.
uint64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
    uint64_t count = 1;
    for (int64_t dim : shape) {
        TWP_CHECK(dim >= 0, what << " has a negative dimension " << dim);
        const auto udim = static_cast<uint64_t>(dim);
        TWP_CHECK(udim == 0 || count <= std::numeric_limits<uint64_t>::max() / udim,
                  what << " has too many elements (the product of its shape overflows 64 bits)");
        count *= udim;
    }
    return count;
}

uint64_t checked_byte_size(const std::vector<int64_t>& shape, DType dtype, const std::string& what) {
    const uint64_t count = checked_numel(shape, what);
    TWP_CHECK(count <= std::numeric_limits<uint64_t>::max() / dtype_size(dtype),
              what << " is too large (its byte size overflows 64 bits)");
    return count * dtype_size(dtype);
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

// Where a tensor's bytes sit in the data buffer, kept for the coverage check after parsing.
struct Extent {
    uint64_t begin;
    uint64_t end;
    size_t tensor_index;
};

// nlohmann keeps the last of two equal keys silently; safetensors forbids repeated names, so a
// parse callback records the first key repeated within any one object.
struct DuplicateKeyFinder {
    std::vector<std::set<std::string>> open_objects;  // keys seen so far, per enclosing object
    std::string duplicate;
    bool duplicate_is_tensor_name = false;

    bool on_event(nlohmann::json::parse_event_t event, const OrderedJson& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
            open_objects.emplace_back();
        } else if (event == Event::object_end) {
            if (!open_objects.empty()) open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty() && duplicate.empty()) {
            const std::string& key = parsed.get_ref<const std::string&>();
            if (!open_objects.back().insert(key).second) {
                duplicate = key;
                duplicate_is_tensor_name = open_objects.size() == 1;
            }
        }
        return true;  // keep everything; we only observe
    }
};

// Reads dtype, shape and data_offsets of one header entry into `record` and `extent`.
void parse_tensor_entry(const std::string& name, const OrderedJson& entry, uint64_t buffer_size,
                        const std::string& source, TensorRecord& record, Extent& extent) {
    const std::string what = "'" + source + "': tensor \"" + name + "\"";
    TWP_CHECK(entry.is_object(), what << " header entry is not a JSON object (it is "
                                      << entry.type_name() << ")");

    const auto dtype_it = entry.find("dtype");
    TWP_CHECK(dtype_it != entry.end(), what << " is missing \"dtype\"");
    TWP_CHECK(dtype_it->is_string(), what << ": \"dtype\" must be a string, not "
                                          << dtype_it->type_name());
    const std::string& dtype_text = dtype_it->get_ref<const std::string&>();
    TWP_CHECK(parse_dtype(dtype_text, record.dtype),
              what << " has unsupported dtype \"" << dtype_text
                   << "\"; twp reads F32, F64, I32, I64 and U8 (convert the tensor before saving)");

    const auto shape_it = entry.find("shape");
    TWP_CHECK(shape_it != entry.end(), what << " is missing \"shape\"");
    TWP_CHECK(shape_it->is_array(), what << ": \"shape\" must be an array of integers, not "
                                         << shape_it->type_name());
    for (const OrderedJson& dim : *shape_it) {
        // JSON integers >= 0 parse as unsigned, negative ones as signed, anything else as float.
        TWP_CHECK(dim.is_number_integer(),
                  what << ": \"shape\" must contain integers, found " << dim.dump());
        TWP_CHECK(dim.is_number_unsigned(), what << " has a negative dimension " << dim.dump()
                                                 << " in \"shape\"");
        const auto value = dim.get<uint64_t>();
        TWP_CHECK(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  what << " has a dimension too large for int64: " << value);
        record.shape.push_back(static_cast<int64_t>(value));
    }
    const uint64_t byte_size = checked_byte_size(record.shape, record.dtype, what);

    const auto offsets_it = entry.find("data_offsets");
    TWP_CHECK(offsets_it != entry.end(), what << " is missing \"data_offsets\"");
    TWP_CHECK(offsets_it->is_array() && offsets_it->size() == 2 &&
                  (*offsets_it)[0].is_number_unsigned() && (*offsets_it)[1].is_number_unsigned(),
              what << ": \"data_offsets\" must be [begin, end] with non-negative integers, not "
                   << offsets_it->dump());
    extent.begin = (*offsets_it)[0].get<uint64_t>();
    extent.end = (*offsets_it)[1].get<uint64_t>();
    TWP_CHECK(extent.begin <= extent.end, what << " has data_offsets [" << extent.begin << ", "
                                               << extent.end << "] with begin > end");
    TWP_CHECK(extent.end <= buffer_size,
              what << " has data_offsets [" << extent.begin << ", " << extent.end
                   << "] out of the data buffer, which holds " << buffer_size
                   << " bytes; the file is truncated or corrupt");
    TWP_CHECK(extent.end - extent.begin == byte_size,
              what << " with dtype " << dtype_text << " and shape " << shape_text(record.shape)
                   << " needs " << byte_size << " bytes, which does not match its data_offsets ["
                   << extent.begin << ", " << extent.end << "] (" << (extent.end - extent.begin)
                   << " bytes)");
}

// The spec requires the tensors, taken in offset order, to tile [0, buffer_size) exactly: no
// overlap (two tensors sharing bytes), no gap, no trailing bytes.
void check_buffer_coverage(std::vector<Extent> extents, const std::vector<TensorRecord>& tensors,
                           uint64_t buffer_size, const std::string& source) {
    std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered_to = 0;
    const std::string* previous_name = nullptr;
    for (const Extent& extent : extents) {
        const std::string& name = tensors[extent.tensor_index].name;
        TWP_CHECK(extent.begin >= covered_to,
                  "'" << source << "': tensor \"" << name << "\" (bytes [" << extent.begin << ", "
                      << extent.end << ")) overlaps tensor \"" << (previous_name ? *previous_name : "")
                      << "\", which ends at byte " << covered_to << "; the file is corrupt");
        TWP_CHECK(extent.begin == covered_to,
                  "'" << source << "': gap in the data buffer: bytes [" << covered_to << ", "
                      << extent.begin << ") before tensor \"" << name
                      << "\" belong to no tensor; the file is corrupt");
        covered_to = extent.end;
        previous_name = &name;
    }
    TWP_CHECK(covered_to == buffer_size,
              "'" << source << "': the data buffer holds " << buffer_size
                  << " bytes but the tensors cover only the first " << covered_to << " (trailing "
                  << (buffer_size - covered_to)
                  << " bytes are not covered by any tensor); the file is corrupt");
}

std::string hex8(uint32_t value) {
    char text[9];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(value));
    return text;
}

// Checks the "twp.crc32" entry, when there is one, against the data buffer (which the coverage
// check has just shown to be exactly the tensors' bytes). Files without it are accepted.
void verify_checksum(const std::map<std::string, std::string>& metadata, std::string_view buffer,
                     const std::string& source) {
    const auto stored = metadata.find(checksum_metadata_key);
    if (stored == metadata.end()) return;
    const std::string& text = stored->second;
    TWP_CHECK(text.size() == 8 && text.find_first_not_of("0123456789abcdef") == std::string::npos,
              "'" << source << "': metadata \"" << checksum_metadata_key << "\" is \"" << text
                  << "\", not 8 lowercase hex digits: the file is corrupt — re-create it");
    const std::string computed = crc32_hex(buffer);
    TWP_CHECK(text == computed, "'" << source << "': checksum mismatch (stored " << text
                                    << ", computed " << computed
                                    << "): the file is corrupt — re-create it");
}

template <typename T>
const T* typed_view(const TensorRecord& record, DType wanted) {
    TWP_CHECK(record.dtype == wanted, "tensor \"" << record.name << "\" has dtype "
                                                  << dtype_name(record.dtype) << ", not "
                                                  << dtype_name(wanted));
    return reinterpret_cast<const T*>(record.bytes.data());
}

}  // namespace

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
        case DType::U8: return "U8";
    }
    TWP_FAIL("invalid DType value " << static_cast<int>(dtype));
}

size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::I32: return 4;
        case DType::I64: return 8;
        case DType::U8: return 1;
    }
    TWP_FAIL("invalid DType value " << static_cast<int>(dtype));
}

int64_t TensorRecord::numel() const {
    return static_cast<int64_t>(checked_numel(shape, "tensor \"" + name + "\""));
}

const float* TensorRecord::f32() const { return typed_view<float>(*this, DType::F32); }
const double* TensorRecord::f64() const { return typed_view<double>(*this, DType::F64); }
const int32_t* TensorRecord::i32() const { return typed_view<int32_t>(*this, DType::I32); }
const int64_t* TensorRecord::i64() const { return typed_view<int64_t>(*this, DType::I64); }

const TensorRecord* SafetensorsFile::find(const std::string& name) const {
    for (const TensorRecord& tensor : tensors) {
        if (tensor.name == name) return &tensor;
    }
    return nullptr;
}

const TensorRecord& SafetensorsFile::at(const std::string& name) const {
    if (const TensorRecord* tensor = find(name)) return *tensor;
    std::string present;
    constexpr size_t max_listed = 20;  // enough to spot a typo without flooding the terminal
    for (size_t i = 0; i < tensors.size() && i < max_listed; ++i) {
        present += (i ? ", " : "") + tensors[i].name;
    }
    if (tensors.size() > max_listed) present += ", ...";
    TWP_FAIL("no tensor named \"" << name << "\" in '" << (source.empty() ? "<memory>" : source)
                                   << "'; it holds " << tensors.size() << " tensors: " << present);
}

std::string crc32_hex(std::string_view bytes) {
    // crc32_z takes a size_t length (crc32 takes 32 bits), so buffers over 4 GiB are covered too.
    // A null buffer means "give the initial value" to zlib, which is also the CRC of no bytes.
    const uLong initial = ::crc32_z(0L, Z_NULL, 0);
    if (bytes.empty()) return hex8(static_cast<uint32_t>(initial));
    return hex8(static_cast<uint32_t>(
        ::crc32_z(initial, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size())));
}

std::string encode_safetensors(const SafetensorsFile& file, Checksum checksum) {
    // The tensors first: their entries, and the checksum of their data, go into the header.
    OrderedJson tensor_entries = OrderedJson::object();
    uLong crc = ::crc32_z(0L, Z_NULL, 0);
    std::set<std::string> names;
    uint64_t offset = 0;
    for (const TensorRecord& tensor : file.tensors) {
        const std::string what = "encode_safetensors: tensor \"" + tensor.name + "\"";
        TWP_CHECK(tensor.name != metadata_key, what << ": the name is reserved for metadata");
        TWP_CHECK(names.insert(tensor.name).second, what << " appears twice; names must be unique");
        const uint64_t byte_size = checked_byte_size(tensor.shape, tensor.dtype, what);
        TWP_CHECK(tensor.bytes.size() == byte_size,
                  what << " holds " << tensor.bytes.size() << " bytes but dtype "
                       << dtype_name(tensor.dtype) << " and shape " << shape_text(tensor.shape)
                       << " need " << byte_size);

        OrderedJson entry = OrderedJson::object();
        entry["dtype"] = dtype_name(tensor.dtype);
        entry["shape"] = OrderedJson::array();
        for (int64_t dim : tensor.shape) entry["shape"].push_back(dim);
        entry["data_offsets"] = OrderedJson::array({offset, offset + byte_size});
        tensor_entries[tensor.name] = std::move(entry);
        offset += byte_size;
        // zlib returns the initial value, 0, for a null buffer: skip empty tensors, whose
        // vector may hold no storage at all.
        if (!tensor.bytes.empty()) crc = ::crc32_z(crc, tensor.bytes.data(), tensor.bytes.size());
    }

    std::map<std::string, std::string> metadata = file.metadata;
    if (checksum == Checksum::always || metadata.count(checksum_metadata_key) != 0) {
        metadata[checksum_metadata_key] = hex8(static_cast<uint32_t>(crc));  // never a stale one
    }
    OrderedJson header = OrderedJson::object();
    if (!metadata.empty()) {
        OrderedJson metadata_json = OrderedJson::object();
        for (const auto& [key, value] : metadata) metadata_json[key] = value;
        header[metadata_key] = std::move(metadata_json);
    }
    for (auto& [name, entry] : tensor_entries.items()) header[name] = std::move(entry);

    std::string header_text;
    try {
        header_text = header.dump();
    } catch (const nlohmann::json::exception& error) {
        // dump() throws on strings that are not valid UTF-8, which the format requires.
        TWP_FAIL("encode_safetensors: a tensor name or metadata string is not valid UTF-8 ("
                 << error.what() << ")");
    }
    // Pad so the data buffer starts at a multiple of 8 bytes from the file start, as the
    // reference writer does: readers that mmap the file can then view F64/I64 data in place.
    header_text.append((length_prefix_bytes - header_text.size() % length_prefix_bytes) %
                           length_prefix_bytes,
                       ' ');

    std::string out;
    out.reserve(length_prefix_bytes + header_text.size() + offset);
    const uint64_t header_length = header_text.size();
    out.append(reinterpret_cast<const char*>(&header_length), length_prefix_bytes);  // host is LE
    out += header_text;
    for (const TensorRecord& tensor : file.tensors) {
        out.append(reinterpret_cast<const char*>(tensor.bytes.data()), tensor.bytes.size());
    }
    return out;
}

SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& source) {
    TWP_CHECK(bytes.size() >= length_prefix_bytes,
              "'" << source << "' is " << bytes.size()
                  << " bytes long, shorter than 8 bytes (the header length); it is not a "
                     "safetensors file or it is truncated");
    uint64_t header_length = 0;
    std::memcpy(&header_length, bytes.data(), length_prefix_bytes);  // host is LE
    TWP_CHECK(header_length <= max_header_bytes,
              "'" << source << "': header length " << header_length << " exceeds the "
                  << max_header_bytes
                  << "-byte limit; it is not a safetensors file or it is corrupt");
    const uint64_t available = bytes.size() - length_prefix_bytes;
    TWP_CHECK(header_length <= available,
              "'" << source << "': header length " << header_length
                  << " extends past the end of the file (" << available
                  << " bytes follow the length); the file is truncated or not safetensors");

    const std::string_view header_text = bytes.substr(length_prefix_bytes, header_length);
    const std::string_view buffer = bytes.substr(length_prefix_bytes + header_length);

    DuplicateKeyFinder duplicates;
    OrderedJson header;
    try {
        header = OrderedJson::parse(
            header_text.begin(), header_text.end(),
            [&duplicates, &source](int depth, nlohmann::json::parse_event_t event,
                                   OrderedJson& parsed) {
                TWP_CHECK(depth < max_header_depth,
                          "'" << source << "': the header nests deeper than " << max_header_depth
                              << " levels; the file is corrupt or not safetensors");
                return duplicates.on_event(event, parsed);
            });
    } catch (const nlohmann::json::exception& error) {
        TWP_FAIL("'" << source << "': the header is not valid JSON (" << error.what()
                     << "); the file is corrupt or not safetensors");
    }
    TWP_CHECK(header.is_object(), "'" << source << "': the header is not a JSON object (it is "
                                      << header.type_name() << ")");
    if (!duplicates.duplicate.empty()) {
        if (duplicates.duplicate_is_tensor_name) {
            TWP_FAIL("'" << source << "': duplicate tensor name \"" << duplicates.duplicate
                         << "\" in the header; names must be unique");
        }
        TWP_FAIL("'" << source << "': duplicate key \"" << duplicates.duplicate
                     << "\" inside a header entry");
    }

    SafetensorsFile file;
    file.source = source;
    std::vector<Extent> extents;
    try {
        for (const auto& [name, entry] : header.items()) {
            if (name == metadata_key) {
                TWP_CHECK(entry.is_object(), "'" << source << "': \"__metadata__\" must be an "
                                                    "object of strings, not " << entry.type_name());
                for (const auto& [key, value] : entry.items()) {
                    TWP_CHECK(value.is_string(), "'" << source << "': metadata value of \"" << key
                                                     << "\" must be a string, not "
                                                     << value.type_name());
                    file.metadata[key] = value.get<std::string>();
                }
                continue;
            }
            TensorRecord record;
            record.name = name;
            Extent extent{};
            parse_tensor_entry(name, entry, buffer.size(), source, record, extent);
            extent.tensor_index = file.tensors.size();
            extents.push_back(extent);
            file.tensors.push_back(std::move(record));
        }
    } catch (const nlohmann::json::exception& error) {
        // Only reachable through a bug in the checks above (they test types before get<>), but a
        // library exception must never escape as something other than twp::Error.
        TWP_FAIL("'" << source << "': unexpected header content (" << error.what() << ")");
    }
    check_buffer_coverage(extents, file.tensors, buffer.size(), source);
    verify_checksum(file.metadata, buffer, source);

    // All offsets are now known to lie inside `buffer`; copy each tensor out.
    for (const Extent& extent : extents) {
        const auto* first = reinterpret_cast<const uint8_t*>(buffer.data()) + extent.begin;
        file.tensors[extent.tensor_index].bytes.assign(first, first + (extent.end - extent.begin));
    }
    return file;
}

void save_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
    write_file_atomically(path, encode_safetensors(file, Checksum::always));
}

SafetensorsFile load_safetensors(const std::filesystem::path& path) {
    const std::string name = path.string();
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int error_number = errno;
        TWP_FAIL("cannot open safetensors file '" << name << "': " << std::strerror(error_number)
                                                  << "; check the path");
    }
    // Reads the whole file: the descriptor is closed on every path, including throws.
    std::string bytes;
    int error_number = 0;
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        error_number = errno;
    } else if (!S_ISREG(info.st_mode)) {
        ::close(fd);
        TWP_FAIL("'" << name << "' is not a regular file; expected a .safetensors file");
    } else {
        bytes.resize(static_cast<size_t>(info.st_size));
        size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                error_number = errno;
                break;
            }
            if (got == 0) {  // the file shrank while we read it
                bytes.resize(done);
                break;
            }
            done += static_cast<size_t>(got);
        }
    }
    ::close(fd);
    if (error_number != 0) {
        TWP_FAIL("cannot read safetensors file '" << name << "': " << std::strerror(error_number));
    }
    return decode_safetensors(bytes, name);
}

TensorRecord make_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data) {
    TensorRecord record;
    record.name = std::move(name);
    record.dtype = dtype;
    record.shape = std::move(shape);
    const uint64_t byte_size =
        checked_byte_size(record.shape, dtype, "make_tensor: tensor \"" + record.name + "\"");
    TWP_CHECK(data != nullptr || byte_size == 0,
              "make_tensor: tensor \"" << record.name << "\" has no data pointer");
    const auto* first = static_cast<const uint8_t*>(data);
    if (byte_size > 0) record.bytes.assign(first, first + byte_size);
    return record;
}

TensorRecord make_f32_tensor(std::string name, std::vector<int64_t> shape, const float* data) {
    return make_tensor(std::move(name), DType::F32, std::move(shape), data);
}

TensorRecord make_i32_tensor(std::string name, std::vector<int64_t> shape, const int32_t* data) {
    return make_tensor(std::move(name), DType::I32, std::move(shape), data);
}

}  // namespace twp
