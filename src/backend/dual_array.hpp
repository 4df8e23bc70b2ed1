// DualArray<T>: an array with a host copy and a copy in a backend's memory, kept coherent the way
// LAMMPS's KOKKOS package keeps its DualViews (modified on one side, synced before the other side
// reads), except that the accessors do it: asking for one side's data copies the other side's
// newer values first, and asking to write marks that side as the newer one. On a backend whose
// memory is host memory (the CPU) both sides are the same array and nothing is ever copied.
// Pointers stay valid until the array is rebound; what they see is current until the other
// side is next written.
#pragma once

#include <cstdint>

#include "backend/array.hpp"
#include "core/buffer.hpp"

namespace symgnn {

template <typename T>
class DualArray {
 public:
  // Host-only until bound.
  void assign(std::size_t n, T value) {
    host_.assign(n, value);
    if (device()) {
      dev_.resize(static_cast<std::int64_t>(n), 1);
      newer_ = Side::kHost;
    }
  }
  // Places the array in `mem` too (a no-op for host memory); the host values are current.
  void bind(Memory& mem) {
    sync_host();
    if (mem.host_memory()) {
      dev_.release();
      mem_ = nullptr;
      newer_ = Side::kNone;
      return;
    }
    mem_ = &mem;
    dev_ = Array<T>(mem);
    dev_.resize(static_cast<std::int64_t>(host_.size()), 1);
    newer_ = Side::kHost;
  }
  std::size_t size() const { return host_.size(); }

  // The host copy, current; writing through the non-const one marks the host side newer.
  const Buffer<T>& host() const {
    sync_host();
    return host_;
  }
  Buffer<T>& host() {
    sync_host();
    if (device()) newer_ = Side::kHost;
    return host_;
  }
  // The backend's copy (the host array on a host-memory backend), current; the non-const one
  // marks the backend side newer.
  const T* backend() const {
    sync_backend();
    return device() ? dev_.ptr() : host_.data();
  }
  T* backend() {
    sync_backend();
    if (!device()) return host_.data();
    newer_ = Side::kBackend;
    return dev_.ptr();
  }

 private:
  enum class Side { kNone, kHost, kBackend };  // which copy holds values the other lacks
  bool device() const { return mem_ != nullptr; }
  void sync_host() const {
    if (newer_ != Side::kBackend) return;
    mem_->copy_out(host_.data(), dev_.ptr(), host_.size() * sizeof(T));
    newer_ = Side::kNone;
  }
  void sync_backend() const {
    if (newer_ != Side::kHost) return;
    mem_->copy_in(dev_.ptr(), host_.data(), host_.size() * sizeof(T));
    newer_ = Side::kNone;
  }
  mutable Buffer<T> host_;
  mutable Array<T> dev_;
  Memory* mem_ = nullptr;
  mutable Side newer_ = Side::kNone;
};

}  // namespace symgnn
