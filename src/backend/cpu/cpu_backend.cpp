#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/backend.hpp"
#include "backend/kernels/transform.hpp"

namespace symgnn {

namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  void* allocate(std::size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p && bytes) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p) override { std::free(p); }
  void copy_in(void* device, const void* host, std::size_t bytes) override {
    std::memcpy(device, host, bytes);
  }
  void copy_out(void* host, const void* device, std::size_t bytes) override {
    std::memcpy(host, device, bytes);
  }
  void transform_edges(std::int64_t n, const float* x, const float* t, float* y) override {
#pragma omp parallel for schedule(static)
    for (std::int64_t e = 0; e < n; ++e) kernels::transform_vector(x + 3 * e, t, y + 3 * e);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() {
  return std::make_unique<CpuBackend>();
}

}  // namespace symgnn
