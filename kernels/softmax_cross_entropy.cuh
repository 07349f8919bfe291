// Softmax cross-entropy over logits [B, K] with labels [B], as the CPU backend's
// (engine/cpu/softmax_cross_entropy.cpp): log-sum-exp with the row maximum subtracted, sums in
// double; argmax's first maximum wins. Plain C++ declarations: includable without any CUDA header.
#pragma once

#include "engine/tensor.hpp"
#include "kernels/stream.hpp"

namespace twp::kernels {

// losses [B] = -log softmax(logits)[label]; correct [B] = 1 where argmax == label, else 0.
// Labels live in device memory, so the launcher cannot check their range: a label outside
// 0..K-1 gives a NaN loss and correct 0 (visible, never an out-of-bounds read).
void softmax_cross_entropy_forward(Tensor logits, IndexTensor labels, Tensor losses,
                                   IndexTensor correct, Stream stream);
// dlogits [B, K] = (softmax(logits) - onehot(label)) / B, the gradient of the batch mean loss.
// A row with a label outside 0..K-1 gets NaN gradients.
void softmax_cross_entropy_backward(Tensor logits, IndexTensor labels, Tensor dlogits,
                                    Stream stream);

}  // namespace twp::kernels
