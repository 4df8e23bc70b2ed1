// Stands in for the CUDA backend in builds configured without it (SYMGNN_CUDA=OFF or no nvcc).
#include "backend/backend.hpp"
#include "core/error.hpp"

namespace symgnn {

CudaStatus probe_cuda() {
  CudaStatus s;
  s.message = "this build has no CUDA backend (configured with SYMGNN_CUDA=OFF or without nvcc)";
  return s;
}

std::unique_ptr<Backend> make_cuda_backend(int) {
  throw Error("CUDA backend: " + probe_cuda().message);
}

}  // namespace symgnn
