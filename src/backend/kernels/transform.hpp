// Edge vectors under an orthogonal transform: y = x · T for a row vector x and a 3x3 matrix T
// (row-major), the input of SymGNN's edge encoder for each sampled transform.
#pragma once

#include <cmath>

#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

template <typename T>
SYMGNN_HD inline void transform_vector(const T* x, const T* m, T* y) {
  y[0] = x[0] * m[0] + x[1] * m[3] + x[2] * m[6];
  y[1] = x[0] * m[1] + x[1] * m[4] + x[2] * m[7];
  y[2] = x[0] * m[2] + x[1] * m[5] + x[2] * m[8];
}

// The edge encoder's input: a stored (float) edge vector under transform m.
template <typename T>
SYMGNN_HD inline void edge_input(const float* v, const T* m, T* x) {
  const T r[3] = {v[0], v[1], v[2]};
  transform_vector(r, m, x);
}

// The "length" ablation's input, |v| (in double, then rounded).
template <typename T>
SYMGNN_HD inline T edge_length(const float* v) {
  return static_cast<T>(sqrt(double(v[0]) * v[0] + double(v[1]) * v[1] + double(v[2]) * v[2]));
}

}  // namespace symgnn::kernels
