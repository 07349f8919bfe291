// The CUDA side of engine/device_probe: implemented in cuda_probe.cu, compiled only when the
// build has CUDA. Declared with plain C++ types so callers need no CUDA header.
#pragma once

#include "engine/device_probe.hpp"

namespace twp {
DeviceProbe probe_cuda_devices();
}
