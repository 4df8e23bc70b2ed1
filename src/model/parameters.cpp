#include "model/parameters.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace symgnn {

template <typename T>
int ParameterStore<T>::add(const std::string& name, std::int64_t rows, std::int64_t cols) {
  if (final_) throw Error("ParameterStore: add('" + name + "') after finalize()");
  if (find(name) >= 0) throw Error("ParameterStore: duplicate parameter '" + name + "'");
  // Each parameter starts on a 64-byte boundary (16 floats) for aligned vector loads.
  const std::int64_t align = 64 / static_cast<std::int64_t>(sizeof(T));
  info_.push_back({name, rows, cols, total_});
  total_ += (rows * cols + align - 1) / align * align;
  return static_cast<int>(info_.size() - 1);
}

template <typename T>
void ParameterStore<T>::finalize() {
  values_.assign(static_cast<std::size_t>(total_), T(0));
  grads_.assign(static_cast<std::size_t>(total_), T(0));
  final_ = true;
}

template <typename T>
int ParameterStore<T>::find(const std::string& name) const {
  for (std::size_t i = 0; i < info_.size(); ++i)
    if (info_[i].name == name) return static_cast<int>(i);
  return -1;
}

template <typename T>
void ParameterStore<T>::bind(Memory& mem) {
  mem_ = &mem;
  values_.bind(mem);
  grads_.bind(mem);
}

template <typename T>
void ParameterStore<T>::zero_grad() {
  T* g = grads_.backend();
  if (mem_)
    mem_->zero(g, static_cast<std::size_t>(total_) * sizeof(T));
  else
    std::fill(g, g + total_, T(0));
}

template class ParameterStore<float>;
template class ParameterStore<double>;

}  // namespace symgnn
