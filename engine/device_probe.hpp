// Which compute devices this build and this machine offer. Plain C++: the experiment asks here
// and never includes a CUDA header.
#pragma once

#include <string>
#include <vector>

namespace twp {

struct CudaDevice {
    int index = 0;
    std::string name;
    int major = 0, minor = 0;        // compute capability
    double memory_gib = 0;
};

struct DeviceProbe {
    bool built_with_cuda = false;
    std::vector<CudaDevice> devices;
    int driver_version = 0, runtime_version = 0;  // CUDA's encoding: 1000 * major + 10 * minor
    std::string problem;  // why no device is usable, when none is ("no driver", ...)
};

DeviceProbe probe_devices();

}  // namespace twp
