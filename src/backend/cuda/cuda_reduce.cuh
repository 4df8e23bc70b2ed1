// The definition of sum_rows (cuda_common.cuh), included by the files that instantiate it.
#pragma once

#include <algorithm>

#include "backend/cuda/cuda_common.cuh"

namespace symgnn::cuda {

namespace reduce {
constexpr int kColsPerBlock = 32;  // threadIdx.x: a column
constexpr int kRowLanes = 8;       // threadIdx.y: rows strided within the block's range
constexpr std::int64_t kRowsPerRange = 4096;
constexpr std::int64_t kMaxRanges = 1024;

inline std::int64_t ranges_for(std::int64_t n) {
  return std::max<std::int64_t>(1, std::min(kMaxRanges, (n + kRowsPerRange - 1) / kRowsPerRange));
}

// Block (column tile, range r): partial[r][j] = sum over the range's rows of f(i, j).
template <typename F>
__global__ void partial_sums(std::int64_t n, int cols, std::int64_t ranges, F f, double* partial) {
  __shared__ double s[kRowLanes][kColsPerBlock];
  const int j = blockIdx.x * kColsPerBlock + threadIdx.x;
  const std::int64_t r = blockIdx.y;
  const std::int64_t lo = n * r / ranges, hi = n * (r + 1) / ranges;
  double acc = 0;
  if (j < cols)
    for (std::int64_t i = lo + threadIdx.y; i < hi; i += kRowLanes) acc += f(i, j);
  s[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (threadIdx.y < half) s[threadIdx.y][threadIdx.x] += s[threadIdx.y + half][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && j < cols) partial[r * cols + j] = s[0][threadIdx.x];
}

// out[j] = sum over ranges in order of partial[r][j].
static __global__ void sum_ranges(std::int64_t ranges, int cols, const double* partial,
                                  double* out) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  double acc = 0;
  for (std::int64_t r = 0; r < ranges; ++r) acc += partial[r * cols + j];
  out[j] = acc;
}
}  // namespace reduce

template <typename F>
void sum_rows(Context& ctx, std::int64_t n, int cols, const F& f, double* device_out) {
  if (cols == 0) return;
  const std::int64_t ranges = reduce::ranges_for(n);
  auto* partial = static_cast<double*>(ctx.scratch(sizeof(double) * ranges * cols));
  const dim3 grid((cols + reduce::kColsPerBlock - 1) / reduce::kColsPerBlock,
                  static_cast<unsigned>(ranges));
  reduce::partial_sums<<<grid, dim3(reduce::kColsPerBlock, reduce::kRowLanes)>>>(n, cols, ranges, f,
                                                                                 partial);
  check_launch("partial_sums");
  reduce::sum_ranges<<<blocks_for(cols), kThreads>>>(ranges, cols, partial, device_out);
  check_launch("sum_ranges");
}

}  // namespace symgnn::cuda
