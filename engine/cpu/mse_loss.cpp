// Mean squared error over all elements on the CPU, as torch.nn.MSELoss(reduction='mean'). The
// loss sums in double, sequentially in index order (a prediction batch is a few thousand values);
// the gradient is (pred - target) * (2 / count), in PyTorch's order.
#include "engine/cpu/ops.hpp"

namespace twp::cpu {

template <class T>
void mse_loss_forward(const T* pred, const T* target, T* loss, int64_t count) {
    double sum = 0;
    for (int64_t i = 0; i < count; ++i) {
        const double difference = double(pred[i]) - double(target[i]);
        sum += difference * difference;
    }
    loss[0] = T(sum / double(count));
}

template <class T>
void mse_loss_backward(const T* pred, const T* target, T* dpred, int64_t count) {
    const T norm = T(2.0 / double(count));
#pragma omp parallel for simd schedule(static) if (count >= kParallelElements)
    for (int64_t i = 0; i < count; ++i) dpred[i] = (pred[i] - target[i]) * norm;
}

template void mse_loss_forward<float>(const float*, const float*, float*, int64_t);
template void mse_loss_forward<double>(const double*, const double*, double*, int64_t);
template void mse_loss_backward<float>(const float*, const float*, float*, int64_t);
template void mse_loss_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace twp::cpu
