// A model's parameters as one table of {name, shape}: offsets are computed once, and every
// parameter is a view into one contiguous buffer. Gradients and optimizer state use the same
// layout, so the optimizer is one flat loop and a snapshot is one copy.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace twp {

struct ParamEntry {
    std::string name;  // PyTorch state_dict key, e.g. "conv1.weight"
    Shape shape;
    int64_t offset = 0;  // in floats, from the start of the buffer
};

class ParamLayout {
public:
    ParamLayout() = default;
    ParamLayout(std::initializer_list<std::pair<std::string, Shape>> table) {
        for (const auto& [name, shape] : table) add(name, shape);
    }
    // Appends a parameter after the others (tables built in a loop, e.g. one entry per layer).
    void add(const std::string& name, Shape shape) {
        entries_.push_back({name, shape, total_});
        total_ += shape.numel();
    }
    const std::vector<ParamEntry>& entries() const { return entries_; }
    int64_t total() const { return total_; }
    const ParamEntry& at(const std::string& name) const {
        for (const ParamEntry& e : entries_)
            if (e.name == name) return e;
        TWP_FAIL("no parameter named '" << name << "'");
    }
    // The parameter holding the value at `index` of the flat buffer (0 <= index < total()).
    const ParamEntry& entry_at(int64_t index) const {
        for (const ParamEntry& e : entries_)
            if (index >= e.offset && index < e.offset + e.shape.numel()) return e;
        TWP_FAIL("no parameter holds value " << index << " of " << total_);
    }
    // The view of one parameter inside a buffer laid out by this table.
    Tensor view(float* base, const std::string& name) const {
        const ParamEntry& e = at(name);
        return Tensor{base + e.offset, e.shape};
    }

private:
    std::vector<ParamEntry> entries_;
    int64_t total_ = 0;
};

}  // namespace twp
