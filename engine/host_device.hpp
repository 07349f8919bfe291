// TWP_HOST_DEVICE marks a function that both host code and CUDA kernels call (the Philox generator
// behind dropout, engine/random.hpp), so that the GPU computes it with the very code the CPU
// backend runs instead of a copy. Under nvcc it is __host__ __device__; for the C++ compiler
// (the CPU build, and the kernels compiled against the CUDA emulation, where every function is
// callable from a kernel anyway) it is empty. Such functions must stay C++17 and use nothing a
// kernel cannot (no std:: calls that are host-only, no exceptions, no allocation).
#pragma once

#if defined(__CUDACC__)
#define TWP_HOST_DEVICE __host__ __device__
#else
#define TWP_HOST_DEVICE
#endif
