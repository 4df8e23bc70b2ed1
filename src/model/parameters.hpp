// All trainable parameters of a model live in one flat array (and their gradients in another),
// so that the optimizer, gradient clipping and the gradient all-reduce each make one pass (one
// MPI_Allreduce) over contiguous memory. A parameter is a named view into it; names follow the
// PyTorch state_dict of the published model, so checkpoints and parity tests match by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  T* value(int i) { return values_.data() + info_[static_cast<std::size_t>(i)].offset; }
  const T* value(int i) const { return values_.data() + info_[static_cast<std::size_t>(i)].offset; }
  T* grad(int i) { return grads_.data() + info_[static_cast<std::size_t>(i)].offset; }
  const T* grad(int i) const { return grads_.data() + info_[static_cast<std::size_t>(i)].offset; }

  Buffer<T>& values() { return values_; }
  const Buffer<T>& values() const { return values_; }
  Buffer<T>& grads() { return grads_; }
  const Buffer<T>& grads() const { return grads_; }
  std::int64_t total() const { return total_; }
  void zero_grad();

 private:
  std::vector<ParameterInfo> info_;
  Buffer<T> values_, grads_;
  std::int64_t total_ = 0;
  bool final_ = false;
};

}  // namespace symgnn
