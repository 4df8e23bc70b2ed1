#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>

namespace symgnn {

template <typename T>
Adam<T>::Adam(std::int64_t size, const AdamConfig& config) : config_(config) {
  m_.assign(static_cast<std::size_t>(size), T(0));
  v_.assign(static_cast<std::size_t>(size), T(0));
  vmax_.assign(static_cast<std::size_t>(size), T(0));
}

template <typename T>
void Adam<T>::step(T* params, const T* grads) {
  ++steps_;
  const double b1 = config_.beta1, b2 = config_.beta2;
  const double bc1 = 1 - std::pow(b1, static_cast<double>(steps_));
  const double bc2 = 1 - std::pow(b2, static_cast<double>(steps_));
  const T step_size = static_cast<T>(config_.lr / bc1);
  const T sqrt_bc2 = static_cast<T>(std::sqrt(bc2));
  const T eps = static_cast<T>(config_.eps), tb1 = static_cast<T>(b1), tb2 = static_cast<T>(b2);
  const auto n = static_cast<std::int64_t>(m_.size());
  T* m = m_.data();
  T* v = v_.data();
  T* vmax = vmax_.data();
  const bool ams = config_.amsgrad;
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const T g = grads[i];
    m[i] = tb1 * m[i] + (T(1) - tb1) * g;
    v[i] = tb2 * v[i] + (T(1) - tb2) * g * g;
    T second = v[i];
    if (ams) {
      vmax[i] = std::max(vmax[i], v[i]);
      second = vmax[i];
    }
    params[i] -= step_size * m[i] / (std::sqrt(second) / sqrt_bc2 + eps);
  }
}

template <typename T>
double clip_grad_norm(T* grads, std::int64_t size, double max_norm) {
  double sum = 0;  // serial: a fixed summation order keeps restarts bitwise (size is small)
  for (std::int64_t i = 0; i < size; ++i) sum += static_cast<double>(grads[i]) * grads[i];
  const double norm = std::sqrt(sum);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) {
    const T c = static_cast<T>(coef);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < size; ++i) grads[i] *= c;
  }
  return norm;
}

template class Adam<float>;
template class Adam<double>;
template double clip_grad_norm<float>(float*, std::int64_t, double);
template double clip_grad_norm<double>(double*, std::int64_t, double);

}  // namespace symgnn
