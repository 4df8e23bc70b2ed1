// The CPU backend: OpenBLAS for the products, OpenMP loops over the kernels of backend/kernels
// for the rest. Backend memory is host memory. Declared here for its two source files
// (cpu_backend.cpp: memory, dense and elementwise operations; cpu_egat.cpp: EGAT).
#pragma once

#include "backend/backend.hpp"

namespace symgnn {

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  std::string name() const override { return "cpu"; }
  bool host_memory() const override { return true; }
  void* allocate(std::size_t bytes) override;
  void deallocate(void* p) override;
  void copy_in(void* device, const void* host, std::size_t bytes) override;
  void copy_out(void* host, const void* device, std::size_t bytes) override;
  void copy(void* to, const void* from, std::size_t bytes) override;
  void zero(void* p, std::size_t bytes) override;

  void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override;
  void broadcast_rows(std::int64_t n, std::int64_t c, const T* row, T* Y) override;
  void axpy(std::int64_t count, T alpha, const T* x, T* y) override;
  void add_from_host(std::int64_t count, const T* host_x, T* y) override;
  void column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* host_out,
                   double* host_out2) override;
  void affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* host_scale,
                      const T* host_shift, T* Y) override;
  void affine_gradient(std::int64_t n, std::int64_t c, const T* X, const T* dY, const T* host_k,
                       const T* host_a, const T* host_b, T* dX) override;

  void relu_forward(std::int64_t count, const T* X, T* Y) override;
  void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) override;
  void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) override;
  double leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY, T* dX) override;
  void dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x) override;

  void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* table,
                         T* Y) override;
  void embedding_backward(std::int64_t n, std::int64_t c, std::int64_t rows,
                          const std::int32_t* index, const T* dY, T* dtable) override;
  void edge_inputs(std::int64_t m, const float* vec, const T* host_t, T* x) override;
  void transform_gradient(std::int64_t m, const float* vec, const T* dx, double* host_out) override;
  void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                    const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                    float p, std::uint8_t* mask) override;

  double squared_error(std::int64_t n, const T* pred, const float* label, double mean, double std,
                       T* d_pred) override;
  double sum_squares(std::int64_t count, const T* x) override;
  void scale(std::int64_t count, T alpha, T* x) override;
  void adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params, const T* grads,
                 T* m, T* v, T* v_max) override;

  void egat_forward(const GraphView& g, int heads, int d, const T* h, const T* f,
                    const EgatParams<T>& p, const T* edge_weight, T* out, const EgatSaved<T>& saved,
                    T* u, EdgeMoments* moments, const EdgeChunkFn<T>& on_chunk) override;
  void egat_edge_features(const GraphView& g, int heads, int d, const T* h, const T* f,
                          const EgatParams<T>& p, T* u, const EdgeChunkFn<T>& on_chunk) override;
  void egat_backward(const GraphView& g, int heads, int d, const T* h, const T* f,
                     const EgatParams<T>& p, const T* edge_weight, const EgatSaved<T>& saved,
                     const T* d_out, const EdgePathGrad<T>& edge, T* u, T* dh, T* df,
                     const EgatParams<T>& grad, T* d_edge_weight) override;
  void gather_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* x,
                   T* out) override;
  void scatter_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* in,
                    T* x) override;
  void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                      const std::int64_t* first, const std::int64_t* items, const T* in,
                      T* x) override;
  void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                      const T* edge_weight, T* out) override;
  void egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                                 const T* d_out, T* d_edge_weight) override;
};

// The implementations behind some of CpuBackend's operations, in files of their own.
void cpu_dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                      const std::uint16_t* images, std::uint32_t lane0,
                      const kernels::PhiloxKey& key, float p, std::uint8_t* mask);
template <typename T>
void cpu_egat_forward(Backend<T>& b, const GraphView& g, int heads, int d, const T* h, const T* f,
                      const EgatParams<T>& p, const T* edge_weight, T* out,
                      const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                      const EdgeChunkFn<T>& on_chunk);
template <typename T>
void cpu_egat_edge_features(Backend<T>& b, const GraphView& g, int heads, int d, const T* h,
                            const T* f, const EgatParams<T>& p, T* u,
                            const EdgeChunkFn<T>& on_chunk);
template <typename T>
void cpu_egat_backward(Backend<T>& b, const GraphView& g, int heads, int d, const T* h, const T* f,
                       const EgatParams<T>& p, const T* edge_weight, const EgatSaved<T>& saved,
                       const T* d_out, const EdgePathGrad<T>& edge, T* u, T* dh, T* df,
                       const EgatParams<T>& grad, T* d_edge_weight);
template <typename T>
void cpu_egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                        const T* edge_weight, T* out);
template <typename T>
void cpu_egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                                   const T* d_out, T* d_edge_weight);

}  // namespace symgnn
