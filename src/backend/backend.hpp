// One interface for the compute backends (ggml-style): every operation a training step or a
// prediction performs, with a CPU implementation (backend/cpu) and, when built, a CUDA one
// (backend/cuda) side by side; the per-element arithmetic of both is written once in
// backend/kernels. src/model decides which operation runs in which order on which arrays.
//
// Conventions. Arrays are row-major (rows: atoms or edges, grouped by destination; columns:
// features) and live in the backend's memory unless a parameter is called `host_*`: small
// per-column vectors (BatchNorm coefficients, slopes) and the sums that come back (BatchNorm
// moments, loss terms) cross to the host; nothing edge- or atom-sized does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/kernels/optimizer.hpp"
#include "backend/kernels/philox.hpp"

namespace symgnn {

// Memory of one backend: allocation, transfers, and what kind of memory it is.
class Memory {
 public:
  virtual ~Memory() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  // True where backend memory is host memory (the CPU backend): arrays need no transfers.
  virtual bool host_memory() const = 0;
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p) = 0;
  virtual void copy_in(void* device, const void* host, std::size_t bytes) = 0;
  virtual void copy_out(void* host, const void* device, std::size_t bytes) = 0;
  virtual void copy(void* to, const void* from, std::size_t bytes) = 0;  // within the backend
  virtual void zero(void* p, std::size_t bytes) = 0;
  // Host memory for staging transfers (pinned on a GPU, so copies run at full speed).
  virtual void* allocate_host(std::size_t bytes) { return ::operator new(bytes); }
  virtual void deallocate_host(void* p) { ::operator delete(p); }
};

// A batch's graph arrays (and labels) in backend memory (model/batch.hpp describes them) and, for
// planning chunks of edges on the host, the destination offsets in host memory.
struct GraphView {
  std::int64_t num_nodes = 0, num_owned = 0, num_edges = 0;
  const std::int64_t* offsets = nullptr;      // num_nodes + 1, incoming edges by destination
  const std::int32_t* src = nullptr;          // per edge
  const std::int32_t* dst = nullptr;          // per edge
  const std::int64_t* out_offsets = nullptr;  // num_nodes + 1
  const std::int64_t* out_edges = nullptr;    // edge ids grouped by source
  const float* vec = nullptr;                 // 3 per edge
  const std::int32_t* species = nullptr;      // per node
  const std::uint64_t* node_id = nullptr;     // per node
  const std::uint64_t* edge_key = nullptr;    // per edge
  const std::uint16_t* edge_image = nullptr;  // per edge
  const float* label = nullptr;               // per owned node; null for unlabelled structures
  const std::int64_t* host_offsets = nullptr;
};

// EGAT's weights (as DGL's EGATConv and the published SymGNN use it) for H heads of width d:
//   u_e   = LeakyReLU_0.01(h_src W_ni^T + h_dst W_nj^T + f_e W_fij^T + b)   (E x H d)
//   s_e,k = <u_e[k], a[k]>,  alpha = softmax of s over the edges into each destination
//   out_j = sum over edges e into j of w_e alpha_e,k (h_src W_node^T)[k]   (N x H d)
// with w_e an optional edge weight (the explainer's mask; 1 when absent).
template <typename T>
struct EgatParams {
  T* W_ni;    // [H d x d]
  T* W_nj;    // [H d x d]
  T* W_fij;   // [H d x d]
  T* W_node;  // [H d x d]
  T* attn;    // [H x d]
  T* bias;    // [H d]
};

// Column sums and sums of squares of u, in double (the edge BatchNorm's batch statistics).
struct EdgeMoments {
  std::vector<double> sum, sumsq;
};

// The gradient reaching u from the edge path (f' = Proj(BN(u)) + f), in a factored form so that
// no E x H d gradient is stored: du[e][c] = (df[e] . W[:, c]) scale[c] + shift[c] + u[e][c]
// slope[c]. All in backend memory.
template <typename T>
struct EdgePathGrad {
  const T* df = nullptr;  // E x d_out; null: nothing reaches u from the edge path
  const T* W = nullptr;   // d_out x H d
  std::int64_t d_out = 0;
  const T* scale = nullptr;  // H d each
  const T* shift = nullptr;
  const T* slope = nullptr;
};

inline constexpr double kEgatSlope = 0.01;

// Called with each chunk of edges [e0, e1) and its rows of u (backend memory) while they are
// fresh (in cache on the CPU), to project or reduce them before the next chunk overwrites them.
template <typename T>
using EdgeChunkFn = std::function<void(std::int64_t e0, std::int64_t e1, const T* u_chunk)>;

// What the EGAT forward keeps for its backward (u itself is recomputed there).
template <typename T>
struct EgatSaved {
  T* alpha;  // E x H, the softmax weights (before edge weights)
  T* m;      // N x H d, h W_node^T
};

template <typename T>
class Backend : public Memory {
 public:
  // --- dense ------------------------------------------------------------------------------------
  // C = alpha op(A) op(B) + beta C on row-major arrays, op(X) = X or X^T.
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                    T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta,
                    T* c, std::int64_t ldc) = 0;
  // Y[i, :] = row for n rows of c.
  virtual void broadcast_rows(std::int64_t n, std::int64_t c, const T* row, T* Y) = 0;
  // y += alpha x.
  virtual void axpy(std::int64_t count, T alpha, const T* x, T* y) = 0;
  // y += host_x (small arrays, parameter gradients computed on the host).
  virtual void add_from_host(std::int64_t count, const T* host_x, T* y) = 0;
  // host_out[j] = sum_i A[i, j] and, with B, host_out2[j] = sum_i A[i, j] B[i, j], in double in
  // a fixed order (deterministic for a fixed thread count or device).
  virtual void column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* host_out,
                           double* host_out2) = 0;
  // Y[i, j] = X[i, j] host_scale[j] + host_shift[j] (BatchNorm's normalisation). Y may alias X.
  virtual void affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* host_scale,
                              const T* host_shift, T* Y) = 0;
  // dX[i, j] = host_k[j] dY[i, j] - host_a[j] X[i, j] + host_b[j] (BatchNorm's input gradient).
  // dX may alias dY.
  virtual void affine_gradient(std::int64_t n, std::int64_t c, const T* X, const T* dY,
                               const T* host_k, const T* host_a, const T* host_b, T* dX) = 0;

  // --- elementwise ------------------------------------------------------------------------------
  virtual void relu_forward(std::int64_t count, const T* X, T* Y) = 0;
  virtual void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) = 0;
  // LeakyReLU, and PReLU with one slope (its value passed from the host).
  virtual void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) = 0;
  // dX = dY (x > 0) or slope dY; returns sum over x <= 0 of dY x (PReLU's slope gradient).
  virtual double leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY,
                                     T* dX) = 0;
  // x[i] = mask[i] ? x[i] scale : 0 (dropout, and its backward).
  virtual void dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x) = 0;

  // --- graph-shaped -----------------------------------------------------------------------------
  // Y[i] = table[index[i]] (rows of width c); backward adds dY[i] into dtable[index[i]] for
  // `rows` table rows, summed in double in atom order.
  virtual void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index,
                                 const T* table, T* Y) = 0;
  virtual void embedding_backward(std::int64_t n, std::int64_t c, std::int64_t rows,
                                  const std::int32_t* index, const T* dY, T* dtable) = 0;
  // The edge encoder's input for edges [0, m) of vec (float, 3 per edge): x = vec · host_t
  // (3x3 row-major, x is m x 3), or |vec| (x is m x 1) when host_t is null (the length
  // ablation).
  virtual void edge_inputs(std::int64_t m, const float* vec, const T* host_t, T* x) = 0;
  // host_out[3 a + b] = sum_e vec[e][a] dx[e][b] (the gradient of x = vec · T to T), in double.
  virtual void transform_gradient(std::int64_t m, const float* vec, const T* dx,
                                  double* host_out) = 0;
  // Dropout keep masks keyed by global row ids, so that every rank, thread or GPU draws the same
  // mask for the same atom or edge: mask[i d + c] = 1 where feature c of row i is kept, i.e. its
  // lane lane0 + c of Philox block (lane >> 2) under counter index ids[i] has a uniform number of
  // at least p. An edge's image code (images[i], or none when images is null) goes into the
  // block word's high half, so an edge and its periodic image with one id draw different numbers.
  virtual void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                            const std::uint16_t* images, std::uint32_t lane0,
                            const kernels::PhiloxKey& key, float p, std::uint8_t* mask) = 0;

  // --- halo rows (parallel/comm): row indices in backend memory, rows `cols` wide -------------
  // out[k] = x[rows[k]].
  virtual void gather_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                           const T* x, T* out) = 0;
  // x[rows[k]] = in[k] (distinct rows).
  virtual void scatter_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                            const T* in, T* x) = 0;
  // x[rows[j]] += in[items[first[j]]] + ... + in[items[first[j + 1] - 1]], in that order, for
  // each of `groups` distinct rows (kernels/rows.hpp).
  virtual void add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                              const std::int64_t* first, const std::int64_t* items, const T* in,
                              T* x) = 0;

  // --- a training step's end --------------------------------------------------------------------
  // The MSE's terms on standardised labels: r_i = pred_i - (label_i - mean) / std and
  // d_pred_i = 2 r_i (the gradient of the sum; the caller scales it by 1 / atoms once the atoms
  // of all ranks are counted); returns sum r_i^2, in double in a fixed order.
  virtual double squared_error(std::int64_t n, const T* pred, const float* label, double mean,
                               double std, T* d_pred) = 0;
  // sum x_i^2 in double in a fixed order (the gradient norm).
  virtual double sum_squares(std::int64_t count, const T* x) = 0;
  // x *= alpha.
  virtual void scale(std::int64_t count, T alpha, T* x) = 0;
  // One Adam / AMSGrad update of every parameter from its gradient (kernels/optimizer.hpp).
  virtual void adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params,
                         const T* grads, T* m, T* v, T* v_max) = 0;

  // --- EGAT -------------------------------------------------------------------------------------
  // Writes out (N x H d) and `saved`. With `u`, all of u (E x H d) is written there (training
  // keeps it for the edge BatchNorm's statistics); without, u exists one chunk at a time
  // (evaluation). `moments` is filled when given. edge_weight (E) may be null.
  virtual void egat_forward(const GraphView& g, int heads, int d, const T* h, const T* f,
                            const EgatParams<T>& p, const T* edge_weight, T* out,
                            const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                            const EdgeChunkFn<T>& on_chunk) = 0;
  // Recomputes u alone into `u` (E x H d), chunk by chunk.
  virtual void egat_edge_features(const GraphView& g, int heads, int d, const T* h, const T* f,
                                  const EgatParams<T>& p, T* u, const EdgeChunkFn<T>& on_chunk) = 0;
  // d_out: N x H d, the gradient of out. u holds u on entry and is overwritten with the gradient
  // of the pre-activation. dh (N x d) and df (E x d, skipped when null) are overwritten; parameter
  // gradients (each skipped when its pointer is null) and d_edge_weight (E, when not null)
  // accumulate.
  virtual void egat_backward(const GraphView& g, int heads, int d, const T* h, const T* f,
                             const EgatParams<T>& p, const T* edge_weight,
                             const EgatSaved<T>& saved, const T* d_out, const EdgePathGrad<T>& edge,
                             T* u, T* dh, T* df, const EgatParams<T>& grad, T* d_edge_weight) = 0;
  // The edge weights' part of EGAT alone, for a layer whose attention `saved` holds (an earlier
  // egat_forward's softmax weights and messages): out (N x H d) = the weighted sums of messages
  // under edge_weight (may be null), and d_edge_weight (E) += the weights' gradient from d_out.
  virtual void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                              const T* edge_weight, T* out) = 0;
  virtual void egat_edge_weight_gradient(const GraphView& g, int heads, int d,
                                         const EgatSaved<T>& saved, const T* d_out,
                                         T* d_edge_weight) = 0;
};

template <typename T>
std::unique_ptr<Backend<T>> make_cpu_backend();

// What the CUDA side of this build can do on this machine.
struct CudaDeviceInfo {
  std::string name;
  std::size_t total_bytes = 0, free_bytes = 0;
  int major = 0, minor = 0;  // compute capability
};
struct CudaStatus {
  bool built = false;   // compiled with the CUDA backend
  int devices = 0;      // usable devices (0 when the driver or a GPU is missing)
  std::string message;  // why no device is usable, or the device names
  std::vector<CudaDeviceInfo> info;
  int cublas_version = 0;
  int nccl_version = 0;
};
CudaStatus probe_cuda();
// Throws Error with the reason when CUDA is not built or the device is not usable.
template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(int device);

// A backend from a user's --device: "cpu", "cuda" (the local rank's GPU: `local_rank` modulo the
// devices) or "cuda:N". Throws UsageError for a malformed name, Error when it is unusable.
template <typename T>
std::unique_ptr<Backend<T>> make_backend(const std::string& device, int local_rank = 0);

}  // namespace symgnn
