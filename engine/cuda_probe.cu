// Asks the CUDA runtime for the devices. No device, no driver or a driver too old are answers,
// not errors: twp then runs on the CPU and says why.
#include <cuda_runtime.h>

#include "engine/cuda_probe.hpp"

namespace twp {

DeviceProbe probe_cuda_devices() {
    DeviceProbe probe;
    probe.built_with_cuda = true;
    cudaRuntimeGetVersion(&probe.runtime_version);
    cudaDriverGetVersion(&probe.driver_version);
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        probe.problem = cudaGetErrorString(status);
        return probe;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp props{};
        if (cudaGetDeviceProperties(&props, i) != cudaSuccess) continue;
        probe.devices.push_back({i, props.name, props.major, props.minor,
                                 double(props.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0)});
    }
    if (probe.devices.empty()) probe.problem = "no CUDA device found";
    return probe;
}

}  // namespace twp
