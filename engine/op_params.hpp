// The parameters of the backend ops that the CUDA kernels take too: the fused activation, the
// pass, dropout's counter-based mask and the optimizers' hyper-parameters. Part of the vocabulary
// the engine and the kernels share (with engine/error.hpp, tensor.hpp, op_dims.hpp, op_checks.hpp,
// random.hpp, host_device.hpp): these headers include only the standard library and each other,
// so that a kernel's header never pulls in the Backend interface or the CPU backend
// (kernels/README.md; ctest include_rules checks it). engine/backend.hpp documents the ops.
#pragma once

#include <cstdint>

namespace twp {

// An activation fused into the op that produces its input (saves a pass over the output).
enum class Activation { kNone, kRelu };

// Whether a backward pass will follow a forward one. kInference lets a backend keep less (the CPU
// conv then reuses one im2col buffer per thread instead of keeping one per image).
enum class Pass { kTraining, kInference };

// torch.optim.SGD's hyper-parameters (dampening 0, no Nesterov, as the reference uses). One step
// over a flat parameter buffer: d = g + weight_decay * p; buf = momentum * buf + d (buf starts at
// 0, which equals PyTorch's first-step clone); p -= learning_rate * buf.
struct SgdConfig {
    float learning_rate = 0.005f;
    float momentum = 0.9f;
    float weight_decay = 5e-4f;
};

// Dropout from the counter-based generator, so any backend draws the same mask: element i of the
// tensor is kept iff uniform_from_bits(philox4x32({lo32(c >> 2), hi32(c >> 2), uint32_t(RngStream::kDropout), 0}, seed)[c & 3]) >= p,
// with c = offset + i; kept values are scaled by 1 / (1 - p). p == 0 is the identity (and eval mode).
// (engine/random.hpp: dropout_keep.)
struct DropoutSpec { float p = 0.0f; uint64_t seed = 0; uint64_t offset = 0; };

// torch.optim.Adam (no weight decay, not amsgrad). One step, counting from 1:
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
struct AdamConfig { float learning_rate = 1e-4f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f; };

}  // namespace twp
