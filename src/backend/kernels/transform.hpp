// Edge vectors under an orthogonal transform: y = x · T for a row vector x and a 3x3 matrix T
// (row-major), the input of SymGNN's edge encoder for each sampled transform.
#pragma once

#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

template <typename T>
SYMGNN_HD inline void transform_vector(const T* x, const T* m, T* y) {
  y[0] = x[0] * m[0] + x[1] * m[3] + x[2] * m[6];
  y[1] = x[0] * m[1] + x[1] * m[4] + x[2] * m[7];
  y[2] = x[0] * m[2] + x[1] * m[5] + x[2] * m[8];
}

}  // namespace symgnn::kernels
