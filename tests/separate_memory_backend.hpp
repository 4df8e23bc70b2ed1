// A test backend: the CPU backend behind a memory of its own, for the device data paths on a
// machine without a GPU (tests/test_backend.cpp, tests/mpi/).
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "backend/backend.hpp"

namespace symgnn {

// Host memory that presents itself as a device's (host_memory() is false): every upload,
// download and host staging buffer of the device path runs through it, counted.
template <typename Base>
class SeparateMemoryOf : public Base {
 public:
  bool host_memory() const override { return false; }
  void* allocate(std::size_t bytes) override {
    void* p = ::operator new(bytes);
    sizes[p] = bytes;
    in_use += bytes;
    peak = std::max(peak, in_use);
    return p;
  }
  void deallocate(void* p) override {
    if (const auto it = sizes.find(p); it != sizes.end()) {
      in_use -= it->second;
      sizes.erase(it);
    }
    ::operator delete(p);
  }
  void copy_in(void* d, const void* h, std::size_t b) override {
    ++uploads;
    std::memcpy(d, h, b);
  }
  void copy_out(void* h, const void* d, std::size_t b) override {
    ++downloads;
    std::memcpy(h, d, b);
  }
  void copy(void* to, const void* from, std::size_t b) override { std::memcpy(to, from, b); }
  void zero(void* p, std::size_t b) override { std::memset(p, 0, b); }
  void* allocate_host(std::size_t bytes) override {
    ++host_buffers;
    return ::operator new(bytes);
  }

  int uploads = 0, downloads = 0, host_buffers = 0;
  std::size_t in_use = 0, peak = 0;  // bytes of device memory allocated, now and at most
  std::unordered_map<void*, std::size_t> sizes;
};

// A separate memory alone (the reducers' and halo exchanges' staged paths).
class SeparateMemory final : public SeparateMemoryOf<Memory> {
 public:
  std::string name() const override { return "separate"; }
};

// The CPU backend behind a memory of its own: arrays are host memory, but the model must treat
// them as a device's, so every DualArray sync of the device path runs here, and a missing one
// changes the results.
class SeparateMemoryBackend final : public SeparateMemoryOf<Backend<float>> {
 public:
  std::string name() const override { return "cpu-separate"; }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
            const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
            float* c, std::int64_t ldc) override {
    cpu_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void broadcast_rows(std::int64_t n, std::int64_t c, const float* row, float* Y) override {
    cpu_->broadcast_rows(n, c, row, Y);
  }
  void axpy(std::int64_t count, float alpha, const float* x, float* y) override {
    cpu_->axpy(count, alpha, x, y);
  }
  void add_from_host(std::int64_t count, const float* x, float* y) override {
    cpu_->add_from_host(count, x, y);
  }
  void column_sums(std::int64_t n, std::int64_t c, const float* A, const float* B, double* out,
                   double* out2) override {
    cpu_->column_sums(n, c, A, B, out, out2);
  }
  void affine_columns(std::int64_t n, std::int64_t c, const float* X, const float* scale,
                      const float* shift, float* Y) override {
    cpu_->affine_columns(n, c, X, scale, shift, Y);
  }
  void affine_gradient(std::int64_t n, std::int64_t c, const float* X, const float* dY,
                       const float* k, const float* a, const float* b, float* dX) override {
    cpu_->affine_gradient(n, c, X, dY, k, a, b, dX);
  }
  void relu_forward(std::int64_t count, const float* X, float* Y) override {
    cpu_->relu_forward(count, X, Y);
  }
  void relu_backward(std::int64_t count, const float* Y, const float* dY, float* dX) override {
    cpu_->relu_backward(count, Y, dY, dX);
  }
  void leaky_relu_forward(std::int64_t count, float slope, const float* X, float* Y) override {
    cpu_->leaky_relu_forward(count, slope, X, Y);
  }
  double leaky_relu_backward(std::int64_t count, float slope, const float* X, const float* dY,
                             float* dX) override {
    return cpu_->leaky_relu_backward(count, slope, X, dY, dX);
  }
  void dropout_apply(std::int64_t count, const std::uint8_t* mask, float scale, float* x) override {
    cpu_->dropout_apply(count, mask, scale, x);
  }
  void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index,
                         const float* table, float* Y) override {
    cpu_->embedding_forward(n, c, index, table, Y);
  }
  void embedding_backward(std::int64_t n, std::int64_t c, std::int64_t rows,
                          const std::int32_t* index, const float* dY, float* dtable) override {
    cpu_->embedding_backward(n, c, rows, index, dY, dtable);
  }
  void edge_inputs(std::int64_t m, const float* vec, const float* t, float* x) override {
    cpu_->edge_inputs(m, vec, t, x);
  }
  void transform_gradient(std::int64_t m, const float* vec, const float* dx, double* out) override {
    cpu_->transform_gradient(m, vec, dx, out);
  }
  void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                    const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                    float p, std::uint8_t* mask) override {
    cpu_->dropout_mask(rows, d, ids, images, lane0, key, p, mask);
  }
  double squared_error(std::int64_t n, const float* pred, const float* label, double mean,
                       double std, float* d_pred) override {
    return cpu_->squared_error(n, pred, label, mean, std, d_pred);
  }
  double sum_squares(std::int64_t count, const float* x) override {
    return cpu_->sum_squares(count, x);
  }
  void scale(std::int64_t count, float alpha, float* x) override { cpu_->scale(count, alpha, x); }
  void adam_step(std::int64_t count, const kernels::AdamStep<float>& step, float* params,
                 const float* grads, float* m, float* v, float* v_max) override {
    cpu_->adam_step(count, step, params, grads, m, v, v_max);
  }
  void egat_forward(const GraphView& g, int heads, int d, const float* h, const float* f,
                    const EgatParams<float>& p, const float* w, float* out,
                    const EgatSaved<float>& saved, float* u, EdgeMoments* moments,
                    const EdgeChunkFn<float>& on_chunk) override {
    cpu_->egat_forward(g, heads, d, h, f, p, w, out, saved, u, moments, on_chunk);
  }
  void egat_edge_features(const GraphView& g, int heads, int d, const float* h, const float* f,
                          const EgatParams<float>& p, float* u,
                          const EdgeChunkFn<float>& on_chunk) override {
    cpu_->egat_edge_features(g, heads, d, h, f, p, u, on_chunk);
  }
  void egat_backward(const GraphView& g, int heads, int d, const float* h, const float* f,
                     const EgatParams<float>& p, const float* w, const EgatSaved<float>& saved,
                     const float* d_out, const EdgePathGrad<float>& edge, float* u, float* dh,
                     float* df, const EgatParams<float>& grad, float* dw) override {
    cpu_->egat_backward(g, heads, d, h, f, p, w, saved, d_out, edge, u, dh, df, grad, dw);
  }
  void gather_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const float* x,
                   float* out) override {
    cpu_->gather_rows(count, cols, rows, x, out);
  }
  void scatter_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                    const float* in, float* x) override {
    cpu_->scatter_rows(count, cols, rows, in, x);
  }
  void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                      const std::int64_t* first, const std::int64_t* items, const float* in,
                      float* x) override {
    cpu_->add_row_groups(groups, cols, rows, first, items, in, x);
  }
  void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<float>& saved,
                      const float* w, float* out) override {
    cpu_->egat_aggregate(g, heads, d, saved, w, out);
  }
  void egat_edge_weight_gradient(const GraphView& g, int heads, int d,
                                 const EgatSaved<float>& saved, const float* d_out,
                                 float* dw) override {
    cpu_->egat_edge_weight_gradient(g, heads, d, saved, d_out, dw);
  }

 private:
  std::unique_ptr<Backend<float>> cpu_ = make_cpu_backend<float>();
};

}  // namespace symgnn
