// L lanes of T as one GCC/Clang vector (an AVX-512 register for 16 floats, two for 16 doubles),
// and the integer lane type of T's width that vector comparisons and selects use. The CPU ops
// that vectorize by hand (conv2d, maxpool2) write their loops with these.
#pragma once

#include <cstdint>
#include <type_traits>

namespace twp::cpu {

template <class T, int L>
struct VectorOf {
    typedef T type __attribute__((vector_size(L * sizeof(T))));
};

template <class T>
using LaneOf = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

}  // namespace twp::cpu
