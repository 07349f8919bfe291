// The core of multi-head self-attention on the CPU, as inside torch.nn.MultiheadAttention
// (batch_first), one (batch, head) pair per OpenMP iteration. Per pair, with q_i, k_j, v_j the
// head's Dh-wide slices of row i or j of qkv [B, S, 3D], c = 1 / sqrt(Dh) and m_ij the dropout
// multiplier of probs' element (b, h, i, j):
//   forward:  P_ij = softmax_j(c q_i·k_j) (the row maximum subtracted first), out_i = sum_j P_ij m_ij v_j
//   backward: dv_j = sum_i P_ij m_ij dout_i;  dP_ij = m_ij dout_i·v_j;
//             dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik);  dq_i = c sum_j dS_ij k_j;  dk_j = c sum_i dS_ij q_i.
// Each pair reads and writes only its own head's columns, so the iterations are independent and
// the result does not depend on the thread count. Sums run in double; the sequences are short
// (S up to a few dozen), so plain loops do.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/ops.hpp"

namespace twp::cpu {
namespace {

// Per-thread scratch of at least `count` doubles. It grows once to the largest size asked for and
// is reused by later calls, so the training loop allocates nothing.
double* thread_scratch(size_t count) {
    thread_local std::vector<double> scratch;
    if (scratch.size() < count) scratch.resize(count);
    return scratch.data();
}

}  // namespace

template <class T>
void attention_forward(const T* qkv, T* probs, T* out, const AttentionDims& dims,
                       const DropoutSpec& dropout) {
    const int64_t s = dims.seq, d = dims.dim, heads = dims.heads, dh = dims.head_dim();
    const int64_t row = 3 * d;  // qkv's row stride
    const double scale = 1.0 / std::sqrt(double(dh));
#pragma omp parallel for schedule(static)
    for (int64_t pair = 0; pair < dims.batch * heads; ++pair) {
        const int64_t b = pair / heads, h = pair % heads;
        const T* base = qkv + b * s * row + h * dh;  // q_i = base + i*row, k_j = +d, v_j = +2d
        T* p = probs + pair * s * s;                 // [S, S]
        double* multipliers = thread_scratch(size_t(s * s + s + dh));  // [S, S]
        double* scores = multipliers + s * s;                          // [S]
        double* sum = scores + s;                                      // [Dh]
        dropout_multipliers(dropout, dropout.offset + uint64_t(pair * s * s), s * s, multipliers);
        for (int64_t i = 0; i < s; ++i) {
            const T* q = base + i * row;
            double top = -INFINITY;
            for (int64_t j = 0; j < s; ++j) {
                const T* k = base + j * row + d;
                double dot = 0;
                for (int64_t e = 0; e < dh; ++e) dot += double(q[e]) * double(k[e]);
                scores[j] = dot * scale;
                top = std::max(top, scores[j]);
            }
            double total = 0;
            for (int64_t j = 0; j < s; ++j) {
                scores[j] = std::exp(scores[j] - top);
                total += scores[j];
            }
            std::fill(sum, sum + dh, 0.0);
            for (int64_t j = 0; j < s; ++j) {
                const double probability = scores[j] / total;
                p[i * s + j] = T(probability);
                const double weight = probability * multipliers[i * s + j];
                const T* v = base + j * row + 2 * d;
                for (int64_t e = 0; e < dh; ++e) sum[e] += weight * double(v[e]);
            }
            T* o = out + (b * s + i) * d + h * dh;
            for (int64_t e = 0; e < dh; ++e) o[e] = T(sum[e]);
        }
    }
}

template <class T>
void attention_backward(const T* qkv, const T* probs, const T* dout, T* dqkv,
                        const AttentionDims& dims, const DropoutSpec& dropout) {
    const int64_t s = dims.seq, d = dims.dim, heads = dims.heads, dh = dims.head_dim();
    const int64_t row = 3 * d;
    const double scale = 1.0 / std::sqrt(double(dh));
#pragma omp parallel for schedule(static)
    for (int64_t pair = 0; pair < dims.batch * heads; ++pair) {
        const int64_t b = pair / heads, h = pair % heads;
        const T* base = qkv + b * s * row + h * dh;
        T* dbase = dqkv + b * s * row + h * dh;
        const T* p = probs + pair * s * s;
        const T* grad = dout + b * s * d + h * dh;  // dout_i = grad + i*d
        double* multipliers = thread_scratch(size_t(2 * s * s + dh));  // [S, S]
        double* ds = multipliers + s * s;                              // [S, S]
        double* sum = ds + s * s;                                      // [Dh]
        dropout_multipliers(dropout, dropout.offset + uint64_t(pair * s * s), s * s, multipliers);

        // dS, one row of probabilities at a time (dP_ij is kept in ds until the row's sum is known).
        for (int64_t i = 0; i < s; ++i) {
            const T* g = grad + i * d;
            double weighted = 0;
            for (int64_t j = 0; j < s; ++j) {
                const T* v = base + j * row + 2 * d;
                double dot = 0;
                for (int64_t e = 0; e < dh; ++e) dot += double(g[e]) * double(v[e]);
                ds[i * s + j] = dot * multipliers[i * s + j];
                weighted += double(p[i * s + j]) * ds[i * s + j];
            }
            for (int64_t j = 0; j < s; ++j)
                ds[i * s + j] = double(p[i * s + j]) * (ds[i * s + j] - weighted);
        }
        // dq_i = c sum_j dS_ij k_j
        for (int64_t i = 0; i < s; ++i) {
            std::fill(sum, sum + dh, 0.0);
            for (int64_t j = 0; j < s; ++j) {
                const T* k = base + j * row + d;
                for (int64_t e = 0; e < dh; ++e) sum[e] += ds[i * s + j] * double(k[e]);
            }
            T* dq = dbase + i * row;
            for (int64_t e = 0; e < dh; ++e) dq[e] = T(sum[e] * scale);
        }
        // dk_j = c sum_i dS_ij q_i;  dv_j = sum_i P_ij m_ij dout_i
        for (int64_t j = 0; j < s; ++j) {
            std::fill(sum, sum + dh, 0.0);
            for (int64_t i = 0; i < s; ++i) {
                const T* q = base + i * row;
                for (int64_t e = 0; e < dh; ++e) sum[e] += ds[i * s + j] * double(q[e]);
            }
            T* dk = dbase + j * row + d;
            for (int64_t e = 0; e < dh; ++e) dk[e] = T(sum[e] * scale);

            std::fill(sum, sum + dh, 0.0);
            for (int64_t i = 0; i < s; ++i) {
                const double weight = double(p[i * s + j]) * multipliers[i * s + j];
                const T* g = grad + i * d;
                for (int64_t e = 0; e < dh; ++e) sum[e] += weight * double(g[e]);
            }
            T* dv = dbase + j * row + 2 * d;
            for (int64_t e = 0; e < dh; ++e) dv[e] = T(sum[e]);
        }
    }
}

template void attention_forward<float>(const float*, float*, float*, const AttentionDims&,
                                       const DropoutSpec&);
template void attention_forward<double>(const double*, double*, double*, const AttentionDims&,
                                        const DropoutSpec&);
template void attention_backward<float>(const float*, const float*, const float*, float*,
                                        const AttentionDims&, const DropoutSpec&);
template void attention_backward<double>(const double*, const double*, const double*, double*,
                                         const AttentionDims&, const DropoutSpec&);

}  // namespace twp::cpu
