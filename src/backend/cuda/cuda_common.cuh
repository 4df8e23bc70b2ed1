// What the CUDA backend's files share: error checks, launch shapes, the device context (device,
// cuBLAS handle, scratch memory) and the deterministic column reduction every sum goes through.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace symgnn::cuda {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}
inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS: ") + what + ": status " + std::to_string(int(status)));
}
// After a kernel launch: launch errors, and (with SYMGNN_CUDA_SYNC set) the kernel's own.
void check_launch(const char* what);

constexpr int kThreads = 256;
inline unsigned blocks_for(std::int64_t count) {
  return static_cast<unsigned>((count + kThreads - 1) / kThreads);
}

// One device: its id, cuBLAS handle and a scratch area that grows to the largest request. All
// work runs on the legacy default stream, in issue order.
class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  int device() const { return device_; }
  cublasHandle_t blas() const { return blas_; }
  // Device scratch of at least `bytes`, valid until the next call (reductions use it).
  void* scratch(std::size_t bytes);
  // Device room for `count` doubles of reduction results, valid until the next call.
  double* sums(std::int64_t count);
  // Reduction results (or other device doubles) copied to the host.
  void download_sums(double* host, const double* device, std::int64_t count);
  // Host values copied to a small device area at `offset` bytes (several vectors can coexist),
  // valid until the next call with an overlapping range.
  template <typename U>
  const U* upload_small(const U* host, std::int64_t count, std::size_t offset);

 private:
  int device_;
  cublasHandle_t blas_ = nullptr;
  void* scratch_ = nullptr;
  std::size_t scratch_bytes_ = 0;
  double* sums_ = nullptr;
  std::int64_t sums_count_ = 0;
  void* small_ = nullptr;  // upload_small's area
  std::size_t small_bytes_ = 0;
};

// Deterministic sums over rows: out[j] = sum_{i < n} f(i, j) for j < cols, in double. Rows are
// split into a fixed number of ranges (set by n only), each summed by one block in a fixed tree
// order; the ranges' partial sums are then added in order. The same inputs give the same bits.
// `f` is a functor with `__device__ double operator()(std::int64_t i, int j) const`.
template <typename F>
void sum_rows(Context& ctx, std::int64_t n, int cols, const F& f, double* device_out);

}  // namespace symgnn::cuda
