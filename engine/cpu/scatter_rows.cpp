// scatter_rows on the CPU: dst[rows[i]] = src[i], whole rows of `width` values; the transpose of
// gather_rows. Rows not named keep their values. Sequential, in index order, so that a repeated
// index deterministically keeps the last row written (a device backend need not promise that).
#include <cstring>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void scatter_rows(const T* src, const int32_t* rows, T* dst, int64_t count, int64_t width) {
    for (int64_t i = 0; i < count; ++i)
        std::memcpy(dst + int64_t(rows[i]) * width, src + i * width, sizeof(T) * width);
}

template void scatter_rows<float>(const float*, const int32_t*, float*, int64_t, int64_t);
template void scatter_rows<double>(const double*, const int32_t*, double*, int64_t, int64_t);

}  // namespace twp::cpu
