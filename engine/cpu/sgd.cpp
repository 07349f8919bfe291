// torch.optim.SGD(lr, momentum, weight_decay) with dampening 0 and no Nesterov, over one flat
// parameter buffer, in the order PyTorch applies it:
//   d = g + weight_decay * p;  buf = momentum * buf + d;  p = p - lr * buf.
// PyTorch's first step sets buf = d; starting from buf = 0 gives the same bits (0 * m + d = d).
#include "engine/cpu/ops.hpp"

namespace twp::cpu {

void sgd_update(float* params, const float* grads, float* momentum_buffer, int64_t count,
                float learning_rate, float momentum, float weight_decay) {
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) {
        const float d = grads[i] + weight_decay * params[i];
        momentum_buffer[i] = momentum * momentum_buffer[i] + d;
        params[i] = params[i] - learning_rate * momentum_buffer[i];
    }
}

}  // namespace twp::cpu
