// Graph-shaped operations on the GPU that are not EGAT: species embeddings, the edge encoder's
// input under a transform, the gradient to the transform, and the halo exchange's row moves.
#include "backend/cuda/cuda_backend.cuh"
#include "backend/cuda/cuda_reduce.cuh"
#include "backend/kernels/rows.hpp"
#include "backend/kernels/transform.hpp"

namespace symgnn::cuda {

namespace {

template <typename T>
__global__ void embedding_kernel(std::int64_t count, std::int64_t cols, const std::int32_t* index,
                                 const T* table, T* Y) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) Y[i] = table[std::int64_t{index[i / cols]} * cols + i % cols];
}

// Column r cols + j: dY[i, j] where atom i is of species r.
template <typename T>
struct EmbeddingTerms {
  const std::int32_t* index;
  const T* dY;
  int cols;
  __device__ double operator()(std::int64_t i, int q) const {
    return index[i] == q / cols ? static_cast<double>(dY[i * cols + q % cols]) : 0.0;
  }
};

template <typename T>
__global__ void edge_input_kernel(std::int64_t m, const float* vec, const T* t, T* x) {
  const std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (e >= m) return;
  if (t)
    kernels::edge_input(vec + 3 * e, t, x + 3 * e);
  else
    x[e] = kernels::edge_length<T>(vec + 3 * e);
}

// Column 3 a + b: vec[e][a] dx[e][b].
template <typename T>
struct TransformTerms {
  const float* vec;
  const T* dx;
  __device__ double operator()(std::int64_t e, int q) const {
    return static_cast<double>(vec[3 * e + q / 3]) * static_cast<double>(dx[3 * e + q % 3]);
  }
};

}  // namespace

template <typename T>
void embedding_forward(std::int64_t n, std::int64_t cols, const std::int32_t* index, const T* table,
                       T* Y) {
  if (n * cols == 0) return;
  embedding_kernel<<<blocks_for(n * cols), kThreads>>>(n * cols, cols, index, table, Y);
  check_launch("embedding_forward");
}

template <typename T>
void embedding_backward(Context& c, std::int64_t n, std::int64_t cols, std::int64_t rows,
                        const std::int32_t* index, const T* dY, T* dtable) {
  const int total = static_cast<int>(rows * cols);
  double* sums = c.sums(total);
  sum_rows(c, n, total, EmbeddingTerms<T>{index, dY, static_cast<int>(cols)}, sums);
  add_sums(total, sums, dtable);
}

template <typename T>
void edge_inputs(Context& c, std::int64_t m, const float* vec, const T* host_t, T* x) {
  if (m == 0) return;
  const T* t = host_t ? c.upload_small(host_t, 9, 0) : nullptr;
  edge_input_kernel<<<blocks_for(m), kThreads>>>(m, vec, t, x);
  check_launch("edge_inputs");
}

template <typename T>
void transform_gradient(Context& c, std::int64_t m, const float* vec, const T* dx,
                        double* host_out) {
  double* sums = c.sums(9);
  sum_rows(c, m, 9, TransformTerms<T>{vec, dx}, sums);
  c.download_sums(host_out, sums, 9);
}

namespace {

// Thread i: column i % cols of row i / cols; `gather` picks which side is indexed.
template <typename T>
__global__ void move_rows_kernel(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                                 const T* from, T* to, bool gather) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i >= count * cols) return;
  const std::int64_t k = i / cols, c = i % cols;
  if (gather)
    to[i] = from[rows[k] * cols + c];
  else
    to[rows[k] * cols + c] = from[i];
}

template <typename T>
__global__ void add_row_groups_kernel(std::int64_t groups, std::int64_t cols,
                                      const std::int64_t* rows, const std::int64_t* first,
                                      const std::int64_t* items, const T* in, T* x) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < groups * cols)
    kernels::add_row_group(i / cols, i % cols, cols, rows, first, items, in, x);
}

}  // namespace

template <typename T>
void move_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows, const T* from,
               T* to, bool gather) {
  if (count * cols == 0) return;
  move_rows_kernel<<<blocks_for(count * cols), kThreads>>>(count, cols, rows, from, to, gather);
  check_launch(gather ? "gather_rows" : "scatter_rows");
}

template <typename T>
void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                    const std::int64_t* first, const std::int64_t* items, const T* in, T* x) {
  if (groups * cols == 0) return;
  add_row_groups_kernel<<<blocks_for(groups * cols), kThreads>>>(groups, cols, rows, first, items,
                                                                 in, x);
  check_launch("add_row_groups");
}

#define SYMGNN_CUDA_GRAPH(T)                                                                       \
  template void embedding_forward<T>(std::int64_t, std::int64_t, const std::int32_t*, const T*,    \
                                     T*);                                                          \
  template void embedding_backward<T>(Context&, std::int64_t, std::int64_t, std::int64_t,          \
                                      const std::int32_t*, const T*, T*);                          \
  template void edge_inputs<T>(Context&, std::int64_t, const float*, const T*, T*);                \
  template void transform_gradient<T>(Context&, std::int64_t, const float*, const T*, double*);    \
  template void move_rows<T>(std::int64_t, std::int64_t, const std::int64_t*, const T*, T*, bool); \
  template void add_row_groups<T>(std::int64_t, std::int64_t, const std::int64_t*,                 \
                                  const std::int64_t*, const std::int64_t*, const T*, T*);
SYMGNN_CUDA_GRAPH(float)
SYMGNN_CUDA_GRAPH(double)
#undef SYMGNN_CUDA_GRAPH

}  // namespace symgnn::cuda
