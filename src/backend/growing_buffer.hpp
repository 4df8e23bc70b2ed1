// A buffer in a backend's memory, or in its pinned host memory, that grows to the largest size
// asked for and is then kept: the packing and staging buffers that every step reuses.
#pragma once

#include <cstddef>

#include "backend/backend.hpp"

namespace symgnn {

class GrowingBuffer {
 public:
  enum class Where { kBackend, kPinnedHost };
  GrowingBuffer(Memory& memory, Where where) : memory_(&memory), where_(where) {}
  ~GrowingBuffer() { release(); }
  GrowingBuffer(const GrowingBuffer&) = delete;
  GrowingBuffer& operator=(const GrowingBuffer&) = delete;

  // At least `bytes`; the contents do not survive a growth.
  void* get(std::size_t bytes) {
    if (bytes > bytes_) {
      release();
      p_ = where_ == Where::kBackend ? memory_->allocate(bytes) : memory_->allocate_host(bytes);
      bytes_ = bytes;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) where_ == Where::kBackend ? memory_->deallocate(p_) : memory_->deallocate_host(p_);
    p_ = nullptr;
    bytes_ = 0;
  }
  Memory* memory_;
  Where where_;
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace symgnn
