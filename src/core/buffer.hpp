// Buffer<T>: a std::vector for large arrays (edge lists, activations) whose elements are
// default-initialised: no zero-filling pass that the first real write would repeat (faulting in
// fresh pages is the largest single cost of building a million-atom graph).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

namespace symgnn {

// 64-byte aligned memory for `bytes`, rounded up to whole cache lines plus one spare line, so
// that a vector loop may read past the last element without leaving the allocation. Free it
// with std::free.
inline void* allocate_aligned(std::size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) throw std::bad_alloc();
  return p;
}

template <typename T>
struct BufferAllocator {
  using value_type = T;
  BufferAllocator() = default;
  template <typename U>
  BufferAllocator(const BufferAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(allocate_aligned(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }

  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0)
      ::new (static_cast<void*>(p)) U;  // default-init: no zeroing
    else
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <typename U>
  bool operator==(const BufferAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using Buffer = std::vector<T, BufferAllocator<T>>;

}  // namespace symgnn
