// Which backend the experiment runs on (base training, snapshot scoring, PCA, the predictor,
// evaluation, the plug-in test): the CUDA backend when this build has CUDA, a device is there and
// --no_cuda was not given; otherwise the CPU backend, with one line saying why. Plain C++: the experiment asks here and never includes a
// CUDA header. It never fails for lack of a GPU; it fails only when --device names a device the
// machine does not have.
#pragma once

#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace twp {

struct DeviceChoice {
    bool no_cuda = false;
    int device = 0;
    bool device_given = false;  // --device was on the command line: a missing device is an error
    bool tf32 = false;          // --tf32: TF32 tensor cores for the CUDA backend's GEMMs
    int cpu_threads = 0;        // for the CPU backend
};

struct ChosenBackend {
    std::unique_ptr<Backend> backend;
    std::string note;  // what was found and chosen, for the log and config.txt
};

ChosenBackend choose_backend(const DeviceChoice& choice);

}  // namespace twp
