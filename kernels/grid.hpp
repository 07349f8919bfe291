// Launch geometry shared by the elementwise kernels: blocks of 256 threads and a grid-stride loop,
// with as many blocks as the work needs up to 1024 (beyond that each thread takes several
// elements: enough blocks to fill any GPU we target, without a launch per million elements).
#pragma once

#include <algorithm>
#include <cstdint>

namespace twp::kernels {

inline constexpr int kElementwiseBlock = 256;
inline constexpr int64_t kMaxElementwiseBlocks = 1024;

// Blocks for `count` work items handled by a grid-stride loop of kElementwiseBlock threads a block.
inline unsigned elementwise_grid(int64_t count) {
    return unsigned(std::min(kMaxElementwiseBlocks, (count + kElementwiseBlock - 1) / kElementwiseBlock));
}

}  // namespace twp::kernels
