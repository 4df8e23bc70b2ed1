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
};

template <typename T>
class Adam {
 public:
  Adam() = default;  // no state: a place to read a checkpoint's optimiser group into
  // State for `size` parameters in `backend`'s memory (which must outlive this).
  Adam(Backend<T>& backend, std::int64_t size, const AdamConfig& config);
  // One update of params with grads, both in the backend's memory.
  void step(T* params, const T* grads);
  std::int64_t steps() const { return steps_; }
  AdamConfig& config() { return config_; }
  const AdamConfig& config() const { return config_; }

  // State, for checkpoints (host views; writes reach the backend).
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
  DualArray<T> m_, v_, vmax_;
  std::int64_t steps_ = 0;
};

// Scales grads (backend memory) so their Euclidean norm is at most max_norm; returns the norm
// before clipping.
template <typename T>
double clip_grad_norm(Backend<T>& backend, T* grads, std::int64_t size, double max_norm);

}  // namespace symgnn
