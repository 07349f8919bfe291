// The Catch2 main of the kernel test executables. twp_kernel_tests runs the kernels on the CPU
// through the CUDA emulation (TWP_EMU_SCHEDULE picks the thread order, see
// kernels/emu/schedule.hpp). twp_kernel_tests_gpu (TWP_KERNEL_TESTS_NEED_GPU) runs the same tests
// on a GPU and, when there is none, says so and exits 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "kernels/device_memory.hpp"

int main(int argc, char* argv[]) {
#if defined(TWP_KERNEL_TESTS_NEED_GPU)
    if (twp::kernels::device_count() == 0) {
        std::printf("no CUDA device: skipped\n");
        return 77;
    }
#endif
    return Catch::Session().run(argc, argv);
}
