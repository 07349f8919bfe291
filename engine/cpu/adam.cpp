// torch.optim.Adam (no weight decay, not amsgrad) over one flat parameter buffer, as PyTorch
// 1.13's single-tensor step computes it: the bias corrections in double, the rest in float, in
// its order of operations:
//   m = m * b1 + (1 - b1) * g;  v = v * b2 + ((1 - b2) * g) * g;
//   step_size = lr / (1 - b1^step);  denom = sqrt(v) / sqrt(1 - b2^step) + eps;
//   p = p + (-step_size * m) / denom.
// PyTorch's hyper-parameters are Python doubles and ours floats, so (1 - b1) etc. can differ in
// the last float bit; the results agree to float rounding, not bit for bit.
#include <cmath>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {

void adam_update(float* params, const float* grads, float* m, float* v, int64_t count, int64_t step,
                 float learning_rate, float beta1, float beta2, float eps) {
    const double bias_correction1 = 1.0 - std::pow(double(beta1), double(step));
    const double bias_correction2 = 1.0 - std::pow(double(beta2), double(step));
    const float negative_step_size = float(-(double(learning_rate) / bias_correction1));
    const float bias_correction2_sqrt = float(std::sqrt(bias_correction2));
    const float one_minus_beta1 = float(1.0 - double(beta1));
    const float one_minus_beta2 = float(1.0 - double(beta2));
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; ++i) {
        const float g = grads[i];
        m[i] = m[i] * beta1 + one_minus_beta1 * g;
        v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
        const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
        params[i] = params[i] + negative_step_size * m[i] / denom;
    }
}

}  // namespace twp::cpu
