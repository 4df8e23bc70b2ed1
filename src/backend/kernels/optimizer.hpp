// The per-element arithmetic of a training step's end (loss, Adam / AMSGrad), shared by the CPU
// loops and the CUDA kernels.
#pragma once

#include <cmath>

#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

// The MSE's residual on a standardised label: prediction - (label - mean) / std, in double.
template <typename T>
SYMGNN_HD inline double standardized_residual(T prediction, float label, double mean, double std) {
  return static_cast<double>(prediction) - (static_cast<double>(label) - mean) / std;
}

// The coefficients of one Adam step, the same for every element (PyTorch's
// torch.optim.Adam update): step_size = lr / (1 - beta1^t), sqrt_bc2 = sqrt(1 - beta2^t);
// keep = 1 - lr weight_decay, AdamW's decoupled decay (torch.optim.AdamW; exactly 1 for Adam).
template <typename T>
struct AdamStep {
  T step_size, sqrt_bc2, eps, beta1, beta2;
  bool amsgrad;
  T keep = T(1);
};

// One element's update from its gradient g: the moments m and v, AMSGrad's running maximum of v,
// and the parameter p.
template <typename T>
SYMGNN_HD inline void adam_update(const AdamStep<T>& s, T g, T& p, T& m, T& v, T& v_max) {
  using std::sqrt;
  m = s.beta1 * m + (T(1) - s.beta1) * g;
  v = s.beta2 * v + (T(1) - s.beta2) * g * g;
  T second = v;
  if (s.amsgrad) {
    v_max = v_max < v ? v : v_max;
    second = v_max;
  }
  if (s.keep != T(1)) p *= s.keep;  // skipped for Adam, so that its updates stay bitwise
  p -= s.step_size * m / (sqrt(second) / s.sqrt_bc2 + s.eps);
}

}  // namespace symgnn::kernels
