// The CUDA backend: cuBLAS for the products (float32 by default), custom kernels over the
// arithmetic of backend/kernels for the rest; every reduction is deterministic (a fixed order,
// no floating-point atomics), so two runs on one GPU give the same bits. The operations of each
// family live in a file of their own (cuda_dense.cu, cuda_elementwise.cu, cuda_graph.cu,
// cuda_training.cu, cuda_egat.cu) as functions of the device Context; this class forwards to them.
#pragma once

#include <memory>

#include "backend/backend.hpp"
#include "backend/cuda/cuda_common.cuh"

namespace symgnn::cuda {

// cuda_dense.cu
template <typename T>
void gemm(Context& c, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* out,
          std::int64_t ldc);
template <typename T>
void broadcast_rows(Context& c, std::int64_t n, std::int64_t cols, const T* row, T* Y);
template <typename T>
void axpy(Context& c, std::int64_t count, T alpha, const T* x, T* y);
template <typename T>
void add_from_host(Context& c, std::int64_t count, const T* host_x, T* y);
template <typename T>
void column_sums(Context& c, std::int64_t n, std::int64_t cols, const T* A, const T* B,
                 double* host_out, double* host_out2);
template <typename T>
void affine_columns(Context& c, std::int64_t n, std::int64_t cols, const T* X, const T* scale,
                    const T* shift, T* Y);
template <typename T>
void affine_gradient(Context& c, std::int64_t n, std::int64_t cols, const T* X, const T* dY,
                     const T* k, const T* a, const T* b, T* dX);
// y[i] += src[i] (device doubles, rounded to T).
template <typename T>
void add_sums(std::int64_t count, const double* src, T* y);

// cuda_elementwise.cu
template <typename T>
void relu_forward(std::int64_t count, const T* X, T* Y);
template <typename T>
void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX);
template <typename T>
void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y);
template <typename T>
double leaky_relu_backward(Context& c, std::int64_t count, T slope, const T* X, const T* dY, T* dX);
template <typename T>
void dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x);
void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                  const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                  float p, std::uint8_t* mask);

// cuda_graph.cu
template <typename T>
void embedding_forward(std::int64_t n, std::int64_t cols, const std::int32_t* index, const T* table,
                       T* Y);
template <typename T>
void embedding_backward(Context& c, std::int64_t n, std::int64_t cols, std::int64_t rows,
                        const std::int32_t* index, const T* dY, T* dtable);
template <typename T>
void edge_inputs(Context& c, std::int64_t m, const float* vec, const T* host_t, T* x);
template <typename T>
void transform_gradient(Context& c, std::int64_t m, const float* vec, const T* dx,
                        double* host_out);
// gather: to[k] = from[rows[k]]; otherwise to[rows[k]] = from[k] (rows cols wide).
template <typename T>
void move_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* from,
               T* to, bool gather);
template <typename T>
void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                    const std::int64_t* first, const std::int64_t* items, const T* in, T* x);

// cuda_training.cu
template <typename T>
double squared_error(Context& c, std::int64_t n, const T* pred, const float* label, double mean,
                     double std, T* d_pred);
template <typename T>
double sum_squares(Context& c, std::int64_t count, const T* x);
template <typename T>
void scale(std::int64_t count, T alpha, T* x);
template <typename T>
void adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params, const T* grads,
               T* m, T* v, T* v_max);

// cuda_egat.cu
template <typename T>
void egat_forward(Context& c, Backend<T>& be, const GraphView& g, int heads, int d, const T* h,
                  const T* f, const EgatParams<T>& p, const T* edge_weight, T* out,
                  const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                  const EdgeChunkFn<T>& on_chunk);
template <typename T>
void egat_edge_features(Context& c, Backend<T>& be, const GraphView& g, int heads, int d,
                        const T* h, const T* f, const EgatParams<T>& p, T* u,
                        const EdgeChunkFn<T>& on_chunk);
template <typename T>
void egat_backward(Context& c, Backend<T>& be, const GraphView& g, int heads, int d, const T* h,
                   const T* f, const EgatParams<T>& p, const T* edge_weight,
                   const EgatSaved<T>& saved, const T* d_out, const EdgePathGrad<T>& edge, T* u,
                   T* dh, T* df, const EgatParams<T>& grad, T* d_edge_weight);
template <typename T>
void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                    const T* edge_weight, T* out);
template <typename T>
void egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                               const T* d_out, T* d_edge_weight);

}  // namespace symgnn::cuda
