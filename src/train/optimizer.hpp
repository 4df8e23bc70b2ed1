// Adam with the AMSGrad variant (PyTorch's torch.optim.Adam(amsgrad=True) rule) and gradient-norm
// clipping (torch.nn.utils.clip_grad_norm_), over the flat parameter and gradient arrays.
#pragma once

#include <cstdint>

#include "core/buffer.hpp"

namespace symgnn {

struct AdamConfig {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = true;
};

template <typename T>
class Adam {
 public:
  Adam() = default;
  Adam(std::int64_t size, const AdamConfig& config);
  void step(T* params, const T* grads);  // one update with the current gradients
  std::int64_t steps() const { return steps_; }
  AdamConfig& config() { return config_; }
  const AdamConfig& config() const { return config_; }

  // State, for checkpoints.
  Buffer<T>& m() { return m_; }
  Buffer<T>& v() { return v_; }
  Buffer<T>& v_max() { return vmax_; }
  void set_steps(std::int64_t s) { steps_ = s; }

 private:
  AdamConfig config_;
  Buffer<T> m_, v_, vmax_;
  std::int64_t steps_ = 0;
};

// Scales grads so their Euclidean norm is at most max_norm; returns the norm before clipping.
template <typename T>
double clip_grad_norm(T* grads, std::int64_t size, double max_norm);

}  // namespace symgnn
