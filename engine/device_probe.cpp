// probe_devices(): the CUDA runtime's answer where the build has CUDA, otherwise "not built".
#include "engine/device_probe.hpp"

#ifdef TWP_HAVE_CUDA
#include "engine/cuda_probe.hpp"
#endif

namespace twp {

DeviceProbe probe_devices() {
#ifdef TWP_HAVE_CUDA
    return probe_cuda_devices();
#else
    DeviceProbe probe;
    probe.problem = "this build has no CUDA (nvcc was not found, or -DTWP_CUDA=OFF)";
    return probe;
#endif
}

}  // namespace twp
