// A training step's end on the GPU: the MSE and its gradient, the gradient norm, scaling, and the
// Adam / AMSGrad update, one thread per element over backend/kernels; the sums go through the
// deterministic sum_rows.
#include "backend/cuda/cuda_backend.cuh"
#include "backend/cuda/cuda_reduce.cuh"
#include "backend/kernels/optimizer.hpp"

namespace symgnn::cuda {

namespace {

__device__ inline std::int64_t element() {
  return blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
}

template <typename T>
struct SquaredResidual {
  const T* pred;
  const float* label;
  double mean, std;
  __device__ double operator()(std::int64_t i, int) const {
    const double r = kernels::standardized_residual(pred[i], label[i], mean, std);
    return r * r;
  }
};

template <typename T>
struct Square {
  const T* x;
  __device__ double operator()(std::int64_t i, int) const {
    return static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
};

template <typename T>
__global__ void mse_gradient_kernel(std::int64_t n, const T* pred, const float* label, double mean,
                                    double std, T* d_pred) {
  const std::int64_t i = element();
  if (i < n)
    d_pred[i] = static_cast<T>(2 * kernels::standardized_residual(pred[i], label[i], mean, std));
}

template <typename T>
__global__ void scale_kernel(std::int64_t count, T alpha, T* x) {
  const std::int64_t i = element();
  if (i < count) x[i] *= alpha;
}

template <typename T>
__global__ void adam_kernel(std::int64_t count, kernels::AdamStep<T> step, T* params,
                            const T* grads, T* m, T* v, T* v_max) {
  const std::int64_t i = element();
  if (i < count) kernels::adam_update(step, grads[i], params[i], m[i], v[i], v_max[i]);
}

}  // namespace

template <typename T>
double squared_error(Context& c, std::int64_t n, const T* pred, const float* label, double mean,
                     double std, T* d_pred) {
  double s = 0;
  if (n == 0) return s;
  double* sums = c.sums(1);
  sum_rows(c, n, 1, SquaredResidual<T>{pred, label, mean, std}, sums);
  mse_gradient_kernel<<<blocks_for(n), kThreads>>>(n, pred, label, mean, std, d_pred);
  check_launch("squared_error");
  c.download_sums(&s, sums, 1);
  return s;
}

template <typename T>
double sum_squares(Context& c, std::int64_t count, const T* x) {
  double s = 0;
  if (count == 0) return s;
  double* sums = c.sums(1);
  sum_rows(c, count, 1, Square<T>{x}, sums);
  c.download_sums(&s, sums, 1);
  return s;
}

template <typename T>
void scale(std::int64_t count, T alpha, T* x) {
  if (count == 0) return;
  scale_kernel<<<blocks_for(count), kThreads>>>(count, alpha, x);
  check_launch("scale");
}

template <typename T>
void adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params, const T* grads,
               T* m, T* v, T* v_max) {
  if (count == 0) return;
  adam_kernel<<<blocks_for(count), kThreads>>>(count, step, params, grads, m, v, v_max);
  check_launch("adam_step");
}

#define SYMGNN_CUDA_TRAINING(T)                                                                    \
  template double squared_error<T>(Context&, std::int64_t, const T*, const float*, double, double, \
                                   T*);                                                            \
  template double sum_squares<T>(Context&, std::int64_t, const T*);                                \
  template void scale<T>(std::int64_t, T, T*);                                                     \
  template void adam_step<T>(std::int64_t, const kernels::AdamStep<T>&, T*, const T*, T*, T*, T*);
SYMGNN_CUDA_TRAINING(float)
SYMGNN_CUDA_TRAINING(double)
#undef SYMGNN_CUDA_TRAINING

}  // namespace symgnn::cuda
