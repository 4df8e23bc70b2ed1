// The CUDA backend: same interface and same kernel arithmetic as the CPU backend. Compiled and
// linked on every build machine that has nvcc; run only where a GPU is present.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "backend/backend.hpp"
#include "backend/kernels/transform.hpp"
#include "core/error.hpp"

namespace symgnn {

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

__global__ void transform_edges_kernel(std::int64_t n, const float* x, const float* t, float* y) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e < n) kernels::transform_vector(x + 3 * e, t, y + 3 * e);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    if (cublasCreate(&blas_) != CUBLAS_STATUS_SUCCESS)
      throw Error("CUDA: cublasCreate failed on device " + std::to_string(device));
  }
  ~CudaBackend() override { cublasDestroy(blas_); }
  std::string name() const override { return "cuda:" + std::to_string(device_); }
  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
  }
  void deallocate(void* p) override { cudaFree(p); }
  void copy_in(void* device, const void* host, std::size_t bytes) override {
    check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  void copy_out(void* host, const void* device, std::size_t bytes) override {
    check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
  void transform_edges(std::int64_t n, const float* x, const float* t, float* y) override {
    if (n == 0) return;
    const int block = 256;
    const auto grid = static_cast<unsigned>((n + block - 1) / block);
    transform_edges_kernel<<<grid, block>>>(n, x, t, y);
    check(cudaGetLastError(), "transform_edges launch");
    check(cudaDeviceSynchronize(), "transform_edges");
  }

 private:
  int device_;
  cublasHandle_t blas_ = nullptr;
};

}  // namespace

CudaStatus probe_cuda() {
  CudaStatus s;
  s.built = true;
  ncclGetVersion(&s.nccl_version);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    s.message = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    return s;
  }
  s.devices = count;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, d) == cudaSuccess)
      s.message += (d ? ", " : "") + std::to_string(d) + ": " + prop.name;
  }
  cublasHandle_t handle;
  if (count > 0 && cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS) {
    cublasGetVersion(handle, &s.cublas_version);
    cublasDestroy(handle);
  }
  return s;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  CudaStatus s = probe_cuda();
  if (s.devices == 0) throw Error("CUDA backend: " + s.message);
  if (device < 0 || device >= s.devices)
    throw Error("CUDA backend: device " + std::to_string(device) + " does not exist (" +
                std::to_string(s.devices) + " devices)");
  return std::make_unique<CudaBackend>(device);
}

}  // namespace symgnn
