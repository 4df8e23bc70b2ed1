#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "backend/array.hpp"
#include "core/error.hpp"

namespace symgnn {

template <typename T>
Adam<T>::Adam(Backend<T>& backend, std::int64_t size, const AdamConfig& config, const T* params)
    : backend_(&backend), config_(config) {
  for (DualArray<T>* a : {&m_, &v_, &vmax_}) {
    a->assign(static_cast<std::size_t>(size), T(0));
    a->bind(backend);
  }
  if (averaging()) {
    if (!params) throw Error("Adam: a moving average needs the initial parameters");
    avg_.assign(static_cast<std::size_t>(size), T(0));
    std::copy(params, params + size, avg_.host().begin());
    avg_.bind(backend);
  }
}

template <typename T>
void Adam<T>::swap_average(T* params) {
  if (!averaging()) throw Error("Adam: no moving average to exchange with");
  const auto n = static_cast<std::int64_t>(avg_.size());
  const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
  Array<T> live(*backend_, n, 1);
  backend_->copy(live.ptr(), params, bytes);
  backend_->copy(params, avg_.backend(), bytes);
  backend_->copy(avg_.backend(), live.ptr(), bytes);
}

template <typename T>
void Adam<T>::step(T* params, const T* grads) {
  ++steps_;
  const double bc1 = 1 - std::pow(config_.beta1, static_cast<double>(steps_));
  const double bc2 = 1 - std::pow(config_.beta2, static_cast<double>(steps_));
  const kernels::AdamStep<T> s{static_cast<T>(config_.lr / bc1),
                               static_cast<T>(std::sqrt(bc2)),
                               static_cast<T>(config_.eps),
                               static_cast<T>(config_.beta1),
                               static_cast<T>(config_.beta2),
                               config_.amsgrad,
                               static_cast<T>(1 - config_.lr * config_.weight_decay)};
  backend_->adam_step(static_cast<std::int64_t>(m_.size()), s, params, grads, m_.backend(),
                      v_.backend(), vmax_.backend());
  if (averaging()) {
    const double t = static_cast<double>(steps_);
    const double d = std::min(config_.ema_decay, (1 + t) / (10 + t));
    const auto n = static_cast<std::int64_t>(avg_.size());
    backend_->scale(n, static_cast<T>(d), avg_.backend());
    backend_->axpy(n, static_cast<T>(1 - d), params, avg_.backend());
  }
}

template <typename T>
double clip_grad_norm(Backend<T>& backend, T* grads, std::int64_t size, double max_norm) {
  const double norm = std::sqrt(backend.sum_squares(size, grads));
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) backend.scale(size, static_cast<T>(coef), grads);
  return norm;
}

template class Adam<float>;
template class Adam<double>;
template double clip_grad_norm<float>(Backend<float>&, float*, std::int64_t, double);
template double clip_grad_norm<double>(Backend<double>&, double*, std::int64_t, double);

}  // namespace symgnn
