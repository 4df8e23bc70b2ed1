// One interface for the compute backends (ggml-style): a CPU implementation and, when built, a
// CUDA implementation side by side. Pointers passed to a backend live in its own memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace symgnn {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p) = 0;
  virtual void copy_in(void* device, const void* host, std::size_t bytes) = 0;
  virtual void copy_out(void* host, const void* device, std::size_t bytes) = 0;

  // y[e] = x[e] · t for n edge vectors (3 floats each) and a 3x3 row-major t (in backend memory).
  virtual void transform_edges(std::int64_t n, const float* x, const float* t, float* y) = 0;
};

std::unique_ptr<Backend> make_cpu_backend();

// What the CUDA side of this build can do on this machine.
struct CudaStatus {
  bool built = false;   // compiled with the CUDA backend
  int devices = 0;      // usable devices (0 when the driver or a GPU is missing)
  std::string message;  // why no device is usable, or the device names
  int cublas_version = 0;
  int nccl_version = 0;
};
CudaStatus probe_cuda();
// Throws Error with the reason when CUDA is not built or no device is usable.
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace symgnn
