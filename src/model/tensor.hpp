// Tensor<T>: a row-major matrix (rows x cols) in a host Buffer: the model's host-side data
// (predictions, edge weights and their gradients, saved statistics); the activations live in
// backend Arrays (backend/array.hpp).
// Rows are atoms or edges (edge-major, grouped by destination), columns are features.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/buffer.hpp"

namespace symgnn {

template <typename T>
struct Tensor {
  std::int64_t rows = 0, cols = 0;
  Buffer<T> data;

  Tensor() = default;
  Tensor(std::int64_t r, std::int64_t c) { resize(r, c); }
  void resize(std::int64_t r, std::int64_t c) {
    rows = r;
    cols = c;
    data.resize(static_cast<std::size_t>(r * c));
  }
  void zero() { std::fill(data.begin(), data.end(), T(0)); }
  std::int64_t size() const { return rows * cols; }
  T* ptr() { return data.data(); }
  const T* ptr() const { return data.data(); }
  T* row(std::int64_t i) { return data.data() + i * cols; }
  const T* row(std::int64_t i) const { return data.data() + i * cols; }
  T& operator()(std::int64_t i, std::int64_t j) {
    return data[static_cast<std::size_t>(i * cols + j)];
  }
  T operator()(std::int64_t i, std::int64_t j) const {
    return data[static_cast<std::size_t>(i * cols + j)];
  }
};

}  // namespace symgnn
