// engine/device_backend.hpp. Compiled with TWP_HAVE_CUDA where the build has the CUDA backend.
#include "engine/device_backend.hpp"

#include <cstdio>

#include "engine/cpu_backend.hpp"
#include "engine/device_probe.hpp"
#include "engine/error.hpp"

#ifdef TWP_HAVE_CUDA
#include "engine/cuda_backend.hpp"
#endif

namespace twp {

namespace {

ChosenBackend on_cpu(const DeviceChoice& choice, const std::string& why) {
    return {std::make_unique<CpuBackend>(choice.cpu_threads), why};
}

}  // namespace

ChosenBackend choose_backend(const DeviceChoice& choice) {
    if (choice.no_cuda) return on_cpu(choice, "--no_cuda: running on the CPU");
    const DeviceProbe probe = probe_devices();
    if (!probe.built_with_cuda) return on_cpu(choice, probe.problem + ": running on the CPU");
    if (probe.devices.empty()) return on_cpu(choice, "no usable GPU (" + probe.problem + "): falling back to the CPU");
    const CudaDevice* device = nullptr;
    for (const CudaDevice& d : probe.devices)
        if (d.index == choice.device) device = &d;
    if (!device) {
        TWP_CHECK(!choice.device_given, "--device " << choice.device << ": this machine has " << probe.devices.size()
                                                      << " CUDA device" << (probe.devices.size() == 1 ? "" : "s")
                                                      << " (0.." << probe.devices.size() - 1 << ")");
        device = &probe.devices.front();
    }
    char found[320];
    std::snprintf(found, sizeof found, "CUDA device %d: %s (compute capability %d.%d, %.1f GiB, driver %d.%d, runtime %d.%d)",
                  device->index, device->name.c_str(), device->major, device->minor, device->memory_gib,
                  probe.driver_version / 1000, probe.driver_version % 1000 / 10, probe.runtime_version / 1000,
                  probe.runtime_version % 1000 / 10);
#ifdef TWP_HAVE_CUDA
    try {
        return {std::make_unique<CudaBackend>(device->index, choice.tf32),
                std::string(found) + ": the experiment runs on it" +
                    (choice.tf32 ? " (TF32 tensor cores for the GEMMs, --tf32)" : "")};
    } catch (const Error& e) {
        return on_cpu(choice, std::string(found) + " could not be used (" + e.what() + "): falling back to the CPU");
    }
#else
    return on_cpu(choice, std::string(found) + ", but this build has no CUDA backend: running on the CPU");
#endif
}

}  // namespace twp
