// Adam with the AMSGrad variant (PyTorch's torch.optim.Adam(amsgrad=True) rule) and gradient-norm
// clipping (torch.nn.utils.clip_grad_norm_), over the flat parameter and gradient arrays in a
// backend's memory.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"
#include "backend/dual_array.hpp"

namespace symgnn {

struct AdamConfig {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = true;
  double weight_decay = 0;  // AdamW's decoupled decay of every parameter; 0: Adam
  // The exponential moving average of the parameters after each step (0: none): avg <- d avg +
  // (1 - d) p with d = min(ema_decay, (1 + t) / (10 + t)) at step t, so that early averages are
  // not dominated by the initial weights (TensorFlow's ExponentialMovingAverage num_updates).
  double ema_decay = 0;
};

template <typename T>
class Adam {
 public:
  // State for `size` parameters in `backend`'s memory (which must outlive this).
  // With ema_decay > 0 the average starts at `params` (host, `size` values), the initial weights.
  Adam(Backend<T>& backend, std::int64_t size, const AdamConfig& config, const T* params = nullptr);
  // One update of params with grads, both in the backend's memory (and of their average).
  void step(T* params, const T* grads);
  std::int64_t steps() const { return steps_; }
  AdamConfig& config() { return config_; }
  const AdamConfig& config() const { return config_; }

  bool averaging() const { return config_.ema_decay > 0; }
  // Exchanges the parameters (backend memory) with their moving average: evaluation runs on the
  // average between two exchanges.
  void swap_average(T* params);

  // State, for checkpoints (host views; writes reach the backend).
  Buffer<T>& average() { return avg_.host(); }
  const Buffer<T>& average() const { return avg_.host(); }
  Buffer<T>& m() { return m_.host(); }
  Buffer<T>& v() { return v_.host(); }
  Buffer<T>& v_max() { return vmax_.host(); }
  const Buffer<T>& m() const { return m_.host(); }
  const Buffer<T>& v() const { return v_.host(); }
  const Buffer<T>& v_max() const { return vmax_.host(); }
  void set_steps(std::int64_t s) { steps_ = s; }

 private:
  Backend<T>* backend_ = nullptr;
  AdamConfig config_;
  DualArray<T> m_, v_, vmax_, avg_;
  std::int64_t steps_ = 0;
};

// Scales grads (backend memory) so their Euclidean norm is at most max_norm; returns the norm
// before clipping.
template <typename T>
double clip_grad_norm(Backend<T>& backend, T* grads, std::int64_t size, double max_norm);

}  // namespace symgnn
