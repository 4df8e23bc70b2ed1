// Stands in for the CUDA backend in builds configured without it (SYMGNN_CUDA=OFF or no nvcc).
#include "backend/backend.hpp"
#include "backend/reducer.hpp"
#include "core/error.hpp"

namespace symgnn {

CudaStatus probe_cuda() {
  CudaStatus s;
  s.message = "this build has no CUDA backend (configured with SYMGNN_CUDA=OFF or without nvcc)";
  return s;
}

template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(int) {
  throw Error("CUDA backend: " + probe_cuda().message);
}
template std::unique_ptr<Backend<float>> make_cuda_backend<float>(int);
template std::unique_ptr<Backend<double>> make_cuda_backend<double>(int);

NcclId nccl_unique_id() {
  throw Error("NCCL: " + probe_cuda().message);
}

std::unique_ptr<Reducer> make_nccl_reducer(const NcclId&, int, int, int) {
  throw Error("NCCL: " + probe_cuda().message);
}

}  // namespace symgnn
