// The stream a kernel or a copy is queued on, as plain C++ so that launcher declarations
// (kernels/<op>.cuh) and the code calling them need no CUDA header. nullptr is the default stream.
// Under nvcc a Stream is a cudaStream_t cast to void*; under the CUDA emulation every launch and
// copy runs synchronously and the stream is ignored.
#pragma once

namespace twp::kernels {

using Stream = void*;

}  // namespace twp::kernels
