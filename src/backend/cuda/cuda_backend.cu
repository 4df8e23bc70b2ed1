// The CUDA backend class, its device context and memory, and the probe `devices` reports.
// Compiled and linked on every build machine that has nvcc; run only where a GPU is present.
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "backend/cuda/cuda_backend.cuh"

namespace symgnn {

namespace cuda {

void check_launch(const char* what) {
  check(cudaGetLastError(), what);
  // Kernels run asynchronously; SYMGNN_CUDA_SYNC=1 makes each report its own errors.
  static const bool sync = std::getenv("SYMGNN_CUDA_SYNC") != nullptr;
  if (sync) check(cudaDeviceSynchronize(), what);
}

Context::Context(int device) : device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cublasCreate(&blas_), "cublasCreate");
  // float32 products unless asked otherwise: no TF32 tensor-core rounding by default.
  check(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

Context::~Context() {
  cudaFree(scratch_);
  cudaFree(sums_);
  cudaFree(small_);
  cublasDestroy(blas_);
}

void* Context::scratch(std::size_t bytes) {
  if (bytes > scratch_bytes_) {
    check(cudaFree(scratch_), "cudaFree");
    scratch_ = nullptr;
    check(cudaMalloc(&scratch_, bytes), "cudaMalloc (scratch)");
    scratch_bytes_ = bytes;
  }
  return scratch_;
}

double* Context::sums(std::int64_t count) {
  if (count > sums_count_) {
    check(cudaFree(sums_), "cudaFree");
    sums_ = nullptr;
    check(cudaMalloc(&sums_, sizeof(double) * static_cast<std::size_t>(count)), "cudaMalloc");
    sums_count_ = count;
  }
  return sums_;
}

void Context::download_sums(double* host, const double* device, std::int64_t count) {
  check(cudaMemcpy(host, device, sizeof(double) * static_cast<std::size_t>(count),
                   cudaMemcpyDeviceToHost),
        "cudaMemcpy (sums to host)");
}

template <typename U>
const U* Context::upload_small(const U* host, std::int64_t count, std::size_t offset) {
  const std::size_t bytes = sizeof(U) * static_cast<std::size_t>(count);
  if (offset + bytes > small_bytes_) {
    // Growing would drop vectors already placed below `offset`: keep a generous fixed size.
    const std::size_t want = std::max<std::size_t>(offset + bytes, 1 << 20);
    void* grown = nullptr;
    check(cudaMalloc(&grown, want), "cudaMalloc (small vectors)");
    if (small_) {
      check(cudaMemcpy(grown, small_, small_bytes_, cudaMemcpyDeviceToDevice), "cudaMemcpy");
      check(cudaFree(small_), "cudaFree");
    }
    small_ = grown;
    small_bytes_ = want;
  }
  U* p = reinterpret_cast<U*>(static_cast<char*>(small_) + offset);
  check(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (small vector)");
  return p;
}
template const float* Context::upload_small<float>(const float*, std::int64_t, std::size_t);
template const double* Context::upload_small<double>(const double*, std::int64_t, std::size_t);

}  // namespace cuda

namespace {

template <typename T>
class CudaBackend final : public Backend<T> {
 public:
  explicit CudaBackend(int device) : ctx_(device) {}
  std::string name() const override { return "cuda:" + std::to_string(ctx_.device()); }
  bool host_memory() const override { return false; }
  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    if (bytes) cuda::check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
  }
  void deallocate(void* p) override { cudaFree(p); }
  void* allocate_host(std::size_t bytes) override {
    void* p = nullptr;
    if (bytes) cuda::check(cudaMallocHost(&p, bytes), "cudaMallocHost");
    return p;
  }
  void deallocate_host(void* p) override { cudaFreeHost(p); }
  void copy_in(void* device, const void* host, std::size_t bytes) override {
    if (bytes) cuda::check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "to device");
  }
  void copy_out(void* host, const void* device, std::size_t bytes) override {
    if (bytes) cuda::check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "to host");
  }
  void copy(void* to, const void* from, std::size_t bytes) override {
    if (bytes) cuda::check(cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToDevice), "on device");
  }
  void zero(void* p, std::size_t bytes) override {
    if (bytes) cuda::check(cudaMemset(p, 0, bytes), "cudaMemset");
  }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
            std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    cuda::gemm<T>(ctx_, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void broadcast_rows(std::int64_t n, std::int64_t c, const T* row, T* Y) override {
    cuda::broadcast_rows<T>(ctx_, n, c, row, Y);
  }
  void axpy(std::int64_t count, T alpha, const T* x, T* y) override {
    cuda::axpy<T>(ctx_, count, alpha, x, y);
  }
  void add_from_host(std::int64_t count, const T* host_x, T* y) override {
    cuda::add_from_host<T>(ctx_, count, host_x, y);
  }
  void column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* out,
                   double* out2) override {
    cuda::column_sums<T>(ctx_, n, c, A, B, out, out2);
  }
  void affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* scale, const T* shift,
                      T* Y) override {
    cuda::affine_columns<T>(ctx_, n, c, X, scale, shift, Y);
  }
  void affine_gradient(std::int64_t n, std::int64_t c, const T* X, const T* dY, const T* k,
                       const T* a, const T* b, T* dX) override {
    cuda::affine_gradient<T>(ctx_, n, c, X, dY, k, a, b, dX);
  }
  void relu_forward(std::int64_t count, const T* X, T* Y) override {
    cuda::relu_forward<T>(count, X, Y);
  }
  void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) override {
    cuda::relu_backward<T>(count, Y, dY, dX);
  }
  void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) override {
    cuda::leaky_relu_forward<T>(count, slope, X, Y);
  }
  double leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY, T* dX) override {
    return cuda::leaky_relu_backward<T>(ctx_, count, slope, X, dY, dX);
  }
  void dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x) override {
    cuda::dropout_apply<T>(count, mask, scale, x);
  }
  void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* table,
                         T* Y) override {
    cuda::embedding_forward<T>(n, c, index, table, Y);
  }
  void embedding_backward(std::int64_t n, std::int64_t c, std::int64_t rows,
                          const std::int32_t* index, const T* dY, T* dtable) override {
    cuda::embedding_backward<T>(ctx_, n, c, rows, index, dY, dtable);
  }
  void edge_inputs(std::int64_t m, const float* vec, const T* host_t, T* x) override {
    cuda::edge_inputs<T>(ctx_, m, vec, host_t, x);
  }
  void transform_gradient(std::int64_t m, const float* vec, const T* dx,
                          double* host_out) override {
    cuda::transform_gradient<T>(ctx_, m, vec, dx, host_out);
  }
  void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                    const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                    float p, std::uint8_t* mask) override {
    cuda::dropout_mask(rows, d, ids, images, lane0, key, p, mask);
  }
  double squared_error(std::int64_t n, const T* pred, const float* label, double mean, double std,
                       T* d_pred) override {
    return cuda::squared_error<T>(ctx_, n, pred, label, mean, std, d_pred);
  }
  double sum_squares(std::int64_t count, const T* x) override {
    return cuda::sum_squares<T>(ctx_, count, x);
  }
  void scale(std::int64_t count, T alpha, T* x) override { cuda::scale<T>(count, alpha, x); }
  void adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params, const T* grads,
                 T* m, T* v, T* v_max) override {
    cuda::adam_step<T>(count, step, params, grads, m, v, v_max);
  }
  void egat_forward(const GraphView& g, int heads, int d, const T* h, const T* f,
                    const EgatParams<T>& p, const T* edge_weight, T* out, const EgatSaved<T>& saved,
                    T* u, EdgeMoments* moments, const EdgeChunkFn<T>& on_chunk) override {
    cuda::egat_forward<T>(ctx_, *this, g, heads, d, h, f, p, edge_weight, out, saved, u, moments,
                          on_chunk);
  }
  void egat_edge_features(const GraphView& g, int heads, int d, const T* h, const T* f,
                          const EgatParams<T>& p, T* u, const EdgeChunkFn<T>& on_chunk) override {
    cuda::egat_edge_features<T>(ctx_, *this, g, heads, d, h, f, p, u, on_chunk);
  }
  void egat_backward(const GraphView& g, int heads, int d, const T* h, const T* f,
                     const EgatParams<T>& p, const T* edge_weight, const EgatSaved<T>& saved,
                     const T* d_out, const EdgePathGrad<T>& edge, T* u, T* dh, T* df,
                     const EgatParams<T>& grad, T* d_edge_weight) override {
    cuda::egat_backward<T>(ctx_, *this, g, heads, d, h, f, p, edge_weight, saved, d_out, edge, u,
                           dh, df, grad, d_edge_weight);
  }
  void gather_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* x,
                   T* out) override {
    cuda::move_rows<T>(count, cols, rows, x, out, true);
  }
  void scatter_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* in,
                    T* x) override {
    cuda::move_rows<T>(count, cols, rows, in, x, false);
  }
  void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                      const std::int64_t* first, const std::int64_t* items, const T* in,
                      T* x) override {
    cuda::add_row_groups<T>(groups, cols, rows, first, items, in, x);
  }
  void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                      const T* edge_weight, T* out) override {
    cuda::egat_aggregate<T>(g, heads, d, saved, edge_weight, out);
  }
  void egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                                 const T* d_out, T* d_edge_weight) override {
    cuda::egat_edge_weight_gradient<T>(g, heads, d, saved, d_out, d_edge_weight);
  }

 private:
  cuda::Context ctx_;
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
  int current = 0;  // restored below: a backend made earlier keeps its device current
  cudaGetDevice(&current);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop;
    CudaDeviceInfo info;
    if (cudaGetDeviceProperties(&prop, d) == cudaSuccess) {
      info.name = prop.name;
      info.major = prop.major;
      info.minor = prop.minor;
      info.total_bytes = prop.totalGlobalMem;
    }
    if (cudaSetDevice(d) == cudaSuccess) cudaMemGetInfo(&info.free_bytes, &info.total_bytes);
    s.message += (d ? ", " : "") + std::to_string(d) + ": " + info.name;
    s.info.push_back(info);
  }
  if (count > 0) cudaSetDevice(current);
  cublasHandle_t handle;
  if (count > 0 && cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS) {
    cublasGetVersion(handle, &s.cublas_version);
    cublasDestroy(handle);
  }
  if (count == 0) s.message = "no CUDA device (the driver reports none)";
  return s;
}

template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(int device) {
  const CudaStatus s = probe_cuda();
  if (s.devices == 0) throw Error("CUDA backend: " + s.message);
  if (device < 0 || device >= s.devices)
    throw Error("CUDA backend: device " + std::to_string(device) + " does not exist (" +
                std::to_string(s.devices) + " devices: " + s.message + ")");
  return std::make_unique<CudaBackend<T>>(device);
}
template std::unique_ptr<Backend<float>> make_cuda_backend<float>(int);
template std::unique_ptr<Backend<double>> make_cuda_backend<double>(int);

}  // namespace symgnn
