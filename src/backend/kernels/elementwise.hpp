// Elementwise activation math shared by the CPU loops and the CUDA kernels.
#pragma once

#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

template <typename T>
SYMGNN_HD inline T relu(T x) {
  return x > T(0) ? x : T(0);
}
// Gradient through ReLU from its output (y > 0 exactly where x > 0).
template <typename T>
SYMGNN_HD inline T relu_grad(T y, T dy) {
  return y > T(0) ? dy : T(0);
}
template <typename T>
SYMGNN_HD inline T leaky_relu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
template <typename T>
SYMGNN_HD inline T leaky_relu_grad(T x, T slope, T dy) {
  return x > T(0) ? dy : slope * dy;
}

// Dropout (and its backward) with a kept feature scaled by 1 / (1 - p).
template <typename T>
SYMGNN_HD inline T dropout(unsigned char keep, T scale, T x) {
  return keep ? x * scale : T(0);
}

}  // namespace symgnn::kernels
