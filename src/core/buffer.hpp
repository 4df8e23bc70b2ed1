// Buffer<T>: a std::vector for large arrays (edge lists, activations). Elements are
// default-initialised (no zero-filling pass that the first real write repeats) and allocations of
// 4 MiB or more are 2 MiB-aligned and advised to use transparent huge pages: faulting in a
// gigabyte of 4 KiB pages costs seconds on virtual machines, with huge pages milliseconds.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

namespace symgnn {

template <typename T>
struct BufferAllocator {
  using value_type = T;
  static constexpr std::size_t kHuge = std::size_t{2} << 20;

  BufferAllocator() = default;
  template <typename U>
  BufferAllocator(const BufferAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    void* p = nullptr;
    if (bytes >= 2 * kHuge) {
      const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
      p = std::aligned_alloc(kHuge, rounded);
      if (p) ::madvise(p, rounded, MADV_HUGEPAGE);
    } else {
      p = std::malloc(bytes ? bytes : 1);
    }
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
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
