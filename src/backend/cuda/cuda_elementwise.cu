// Elementwise operations on the GPU: activations and their gradients, dropout masks and their
// application, one thread per element (or per Philox block of a row) over backend/kernels.
#include "backend/cuda/cuda_backend.cuh"
#include "backend/cuda/cuda_reduce.cuh"
#include "backend/kernels/dropout.hpp"
#include "backend/kernels/elementwise.hpp"

namespace symgnn::cuda {

namespace {

__device__ inline std::int64_t thread_index() {
  return blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
}

template <typename T>
__global__ void relu_kernel(std::int64_t count, const T* X, T* Y) {
  const std::int64_t i = thread_index();
  if (i < count) Y[i] = kernels::relu(X[i]);
}

template <typename T>
__global__ void relu_grad_kernel(std::int64_t count, const T* Y, const T* dY, T* dX) {
  const std::int64_t i = thread_index();
  if (i < count) dX[i] = kernels::relu_grad(Y[i], dY[i]);
}

template <typename T>
__global__ void leaky_kernel(std::int64_t count, T slope, const T* X, T* Y) {
  const std::int64_t i = thread_index();
  if (i < count) Y[i] = kernels::leaky_relu(X[i], slope);
}

template <typename T>
__global__ void leaky_grad_kernel(std::int64_t count, T slope, const T* X, const T* dY, T* dX) {
  const std::int64_t i = thread_index();
  if (i < count) dX[i] = kernels::leaky_relu_grad(X[i], slope, dY[i]);
}

// dy x where x <= 0: the slope's gradient, one column.
template <typename T>
struct SlopeTerms {
  const T* X;
  const T* dY;
  __device__ double operator()(std::int64_t i, int) const {
    return X[i] > T(0) ? 0.0 : static_cast<double>(dY[i]) * static_cast<double>(X[i]);
  }
};

template <typename T>
__global__ void dropout_kernel(std::int64_t count, const std::uint8_t* mask, T scale, T* x) {
  const std::int64_t i = thread_index();
  if (i < count) x[i] = kernels::dropout(mask[i], scale, x[i]);
}

// One thread per (row, Philox block touched by the row's lanes).
__global__ void dropout_mask_kernel(std::int64_t rows, std::int64_t d, std::int64_t blocks,
                                    const std::uint64_t* ids, const std::uint16_t* images,
                                    std::uint32_t lane0, kernels::PhiloxKey key, float p,
                                    std::uint8_t* mask) {
  const std::int64_t t = thread_index();
  if (t >= rows * blocks) return;
  const std::int64_t i = t / blocks, b = t % blocks;
  const auto first = static_cast<std::int64_t>(lane0 >> 2);
  const std::uint32_t tag = images ? std::uint32_t{images[i]} << 16 : 0u;
  std::uint8_t keep[4];
  kernels::dropout_keep4(key, ids[i], tag | static_cast<std::uint32_t>(first + b), p, keep);
  for (std::int64_t w = 0; w < 4; ++w) {
    const std::int64_t c = 4 * (first + b) + w - static_cast<std::int64_t>(lane0);
    if (c >= 0 && c < d) mask[i * d + c] = keep[w];
  }
}

}  // namespace

template <typename T>
void relu_forward(std::int64_t count, const T* X, T* Y) {
  if (count == 0) return;
  relu_kernel<<<blocks_for(count), kThreads>>>(count, X, Y);
  check_launch("relu_forward");
}

template <typename T>
void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) {
  if (count == 0) return;
  relu_grad_kernel<<<blocks_for(count), kThreads>>>(count, Y, dY, dX);
  check_launch("relu_backward");
}

template <typename T>
void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) {
  if (count == 0) return;
  leaky_kernel<<<blocks_for(count), kThreads>>>(count, slope, X, Y);
  check_launch("leaky_relu_forward");
}

template <typename T>
double leaky_relu_backward(Context& c, std::int64_t count, T slope, const T* X, const T* dY,
                           T* dX) {
  double s = 0;
  if (count == 0) return s;
  double* sums = c.sums(1);
  sum_rows(c, count, 1, SlopeTerms<T>{X, dY}, sums);  // before dX, which may alias dY
  leaky_grad_kernel<<<blocks_for(count), kThreads>>>(count, slope, X, dY, dX);
  check_launch("leaky_relu_backward");
  c.download_sums(&s, sums, 1);
  return s;
}

template <typename T>
void dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x) {
  if (count == 0) return;
  dropout_kernel<<<blocks_for(count), kThreads>>>(count, mask, scale, x);
  check_launch("dropout_apply");
}

void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                  const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                  float p, std::uint8_t* mask) {
  const auto first = static_cast<std::int64_t>(lane0 >> 2);
  const std::int64_t blocks =
      static_cast<std::int64_t>((lane0 + static_cast<std::uint32_t>(d) + 3) >> 2) - first;
  if (rows * blocks == 0) return;
  dropout_mask_kernel<<<blocks_for(rows * blocks), kThreads>>>(rows, d, blocks, ids, images, lane0,
                                                               key, p, mask);
  check_launch("dropout_mask");
}

#define SYMGNN_CUDA_ELEMENTWISE(T)                                                           \
  template void relu_forward<T>(std::int64_t, const T*, T*);                                 \
  template void relu_backward<T>(std::int64_t, const T*, const T*, T*);                      \
  template void leaky_relu_forward<T>(std::int64_t, T, const T*, T*);                        \
  template double leaky_relu_backward<T>(Context&, std::int64_t, T, const T*, const T*, T*); \
  template void dropout_apply<T>(std::int64_t, const std::uint8_t*, T, T*);
SYMGNN_CUDA_ELEMENTWISE(float)
SYMGNN_CUDA_ELEMENTWISE(double)
#undef SYMGNN_CUDA_ELEMENTWISE

}  // namespace symgnn::cuda
