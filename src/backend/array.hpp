// Array<U>: a row-major matrix (rows x cols) in a backend's memory, the array type of the model's
// activations. It owns its allocation, keeps its capacity when resized smaller (the layer loop
// reuses the largest arrays), and never initialises elements (no pass the first write repeats).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "backend/backend.hpp"

namespace symgnn {

template <typename U>
class Array {
 public:
  Array() = default;
  explicit Array(Memory& mem) : mem_(&mem) {}
  Array(Memory& mem, std::int64_t r, std::int64_t c) : mem_(&mem) { resize(r, c); }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  Array(Array&& o) noexcept { swap(o); }
  Array& operator=(Array&& o) noexcept {
    Array tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~Array() { release(); }

  void bind(Memory& mem) {
    if (mem_ != &mem) {
      release();
      mem_ = &mem;
    }
  }
  void resize(std::int64_t r, std::int64_t c) {
    const auto need = static_cast<std::size_t>(r * c);
    if (need > capacity_) {
      release();
      p_ = static_cast<U*>(mem_->allocate(need * sizeof(U)));
      capacity_ = need;
    }
    rows_ = r;
    cols_ = c;
  }
  void release() {
    if (p_) mem_->deallocate(p_);
    p_ = nullptr;
    capacity_ = 0;
    rows_ = cols_ = 0;
  }
  void zero() {
    if (size()) mem_->zero(p_, bytes());
  }
  void copy_from(const Array& o) {
    resize(o.rows_, o.cols_);
    if (size()) mem_->copy(p_, o.p_, bytes());
  }
  void upload(const U* host, std::int64_t r, std::int64_t c) {
    resize(r, c);
    if (size()) mem_->copy_in(p_, host, bytes());
  }
  std::vector<U> download() const {
    std::vector<U> out(static_cast<std::size_t>(size()));
    if (size()) mem_->copy_out(out.data(), p_, bytes());
    return out;
  }

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  std::int64_t size() const { return rows_ * cols_; }
  std::size_t bytes() const { return static_cast<std::size_t>(size()) * sizeof(U); }
  U* ptr() { return p_; }
  const U* ptr() const { return p_; }
  U* row(std::int64_t i) { return p_ + i * cols_; }
  const U* row(std::int64_t i) const { return p_ + i * cols_; }

 private:
  void swap(Array& o) noexcept {
    std::swap(mem_, o.mem_);
    std::swap(p_, o.p_);
    std::swap(capacity_, o.capacity_);
    std::swap(rows_, o.rows_);
    std::swap(cols_, o.cols_);
  }
  Memory* mem_ = nullptr;
  U* p_ = nullptr;
  std::size_t capacity_ = 0;
  std::int64_t rows_ = 0, cols_ = 0;
};

}  // namespace symgnn
