// libFuzzer target for the safetensors decoder (engine/safetensors): decodes arbitrary bytes, then
// touches every tensor's data through its typed view and every metadata entry, and checks that
// what decoded re-encodes and decodes back to the same tensors and metadata. Bad input must end
// in twp::Error; anything else (a sanitizer report, another exception, a broken invariant)
// crashes the run. Built and run by tools/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/safetensors.hpp"

namespace {

volatile uint64_t sink;  // the reads' hash lands here, so they are not optimized away

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_safetensors: broken invariant: %s\n", what);
    std::abort();
}

// Reads every element through the typed accessor (the way the model code reads tensors).
uint64_t touch(const twp::TensorRecord& tensor) {
    const int64_t n = tensor.numel();
    if (n < 0) broken("negative numel");
    if (tensor.bytes.size() != uint64_t(n) * twp::dtype_size(tensor.dtype)) {
        broken("byte size differs from numel * dtype size");
    }
    uint64_t hash = tensor.name.size() + tensor.shape.size();
    auto mix = [&hash](const void* element, size_t bytes) {
        uint64_t value = 0;
        std::memcpy(&value, element, bytes);
        hash = hash * 1099511628211u ^ value;
    };
    switch (tensor.dtype) {
        case twp::DType::F32: {
            const float* values = tensor.f32();
            for (int64_t i = 0; i < n; ++i) mix(&values[i], sizeof(float));
            break;
        }
        case twp::DType::F64: {
            const double* values = tensor.f64();
            for (int64_t i = 0; i < n; ++i) mix(&values[i], sizeof(double));
            break;
        }
        case twp::DType::I32: {
            const int32_t* values = tensor.i32();
            for (int64_t i = 0; i < n; ++i) mix(&values[i], sizeof(int32_t));
            break;
        }
        case twp::DType::I64: {
            const int64_t* values = tensor.i64();
            for (int64_t i = 0; i < n; ++i) mix(&values[i], sizeof(int64_t));
            break;
        }
        case twp::DType::U8:
            for (uint8_t byte : tensor.bytes) mix(&byte, 1);
            break;
    }
    return hash;
}

bool same_tensors(const twp::SafetensorsFile& a, const twp::SafetensorsFile& b) {
    if (a.tensors.size() != b.tensors.size() || a.metadata != b.metadata) return false;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        const twp::TensorRecord& x = a.tensors[i];
        const twp::TensorRecord& y = b.tensors[i];
        if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.bytes != y.bytes) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    twp::SafetensorsFile file;
    try {
        file = twp::decode_safetensors(bytes, "fuzz-input");
    } catch (const twp::Error&) {
        return 0;  // expected on bad input
    }
    uint64_t hash = 0;
    for (const twp::TensorRecord& tensor : file.tensors) {
        hash ^= touch(tensor);
        if (&file.at(tensor.name) != file.find(tensor.name)) broken("at() and find() disagree");
        if (std::string(twp::dtype_name(tensor.dtype)).empty()) broken("dtype name");
    }
    for (const auto& [key, value] : file.metadata) hash ^= key.size() * 31 + value.size();
    if (file.find("__metadata__") != nullptr) broken("metadata decoded as a tensor");
    // What decoded must survive a round trip unchanged: names and metadata came from valid JSON,
    // so encoding cannot fail.
    try {
        const twp::SafetensorsFile again =
            twp::decode_safetensors(twp::encode_safetensors(file), "fuzz-round-trip");
        if (!same_tensors(file, again)) broken("decode(encode(file)) differs from file");
    } catch (const twp::Error& error) {
        std::fprintf(stderr, "fuzz_safetensors: round trip threw: %s\n", error.what());
        std::abort();
    }
    sink = hash;
    return 0;
}
