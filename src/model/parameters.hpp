// All trainable parameters of a model live in one flat array (and their gradients in another),
// so that the optimizer, gradient clipping and the gradient all-reduce each make one pass (one
// MPI_Allreduce) over contiguous memory. A parameter is a named view into it; names follow the
// PyTorch state_dict of the published model, so checkpoints and parity tests match by name.
// Both arrays live where the model computes (bind()): the host accessors serve initialisation,
// checkpoints, the per-column coefficients the model forms on the host, and tests; the backend
// accessors serve the passes and the optimiser. Each side sees the other's writes (DualArray).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/dual_array.hpp"
#include "core/buffer.hpp"

namespace symgnn {

struct ParameterInfo {
  std::string name;
  std::int64_t rows = 0, cols = 0;  // a vector has cols = 1
  std::int64_t offset = 0;
  std::int64_t size() const { return rows * cols; }
};

template <typename T>
class ParameterStore {
 public:
  // Registers a parameter (before finalize()); returns its index.
  int add(const std::string& name, std::int64_t rows, std::int64_t cols);
  // Allocates values and gradients (zeroed); no add() afterwards.
  void finalize();

  int count() const { return static_cast<int>(info_.size()); }
  const ParameterInfo& info(int i) const { return info_[static_cast<std::size_t>(i)]; }
  int find(const std::string& name) const;  // -1 if absent
  // Host views, current (writing through the non-const ones is seen by the backend).
  T* value(int i) { return values_.host().data() + offset(i); }
  const T* value(int i) const { return values_.host().data() + offset(i); }
  T* grad(int i) { return grads_.host().data() + offset(i); }
  const T* grad(int i) const { return grads_.host().data() + offset(i); }
  Buffer<T>& values() { return values_.host(); }
  const Buffer<T>& values() const { return values_.host(); }
  Buffer<T>& grads() { return grads_.host(); }
  const Buffer<T>& grads() const { return grads_.host(); }

  // Values and gradients in the memory of the backend they are bound to (host memory if none).
  void bind(Memory& mem);
  T* backend_values() { return values_.backend(); }
  const T* backend_values() const { return values_.backend(); }
  T* backend_grads() { return grads_.backend(); }
  const T* backend_grads() const { return grads_.backend(); }
  std::int64_t total() const { return total_; }
  void zero_grad();  // where the gradients are

 private:
  std::vector<ParameterInfo> info_;
  std::int64_t offset(int i) const { return info_[static_cast<std::size_t>(i)].offset; }
  DualArray<T> values_, grads_;
  Memory* mem_ = nullptr;
  std::int64_t total_ = 0;
  bool final_ = false;
};

}  // namespace symgnn
