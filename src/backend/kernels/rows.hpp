// Row moves of the halo exchange (parallel/comm), written once for the CPU loops and CUDA kernels:
// a thread (or loop iteration) takes one column of one row.
#pragma once

#include <cstdint>

#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

// Column c of group j: x[rows[j]][c] += in[items[k]][c] for k in [first[j], first[j + 1]), in
// that order, so that a row fed by several ghosts sums them in a fixed order.
template <typename T>
SYMGNN_HD inline void add_row_group(std::int64_t j, std::int64_t c, std::int64_t cols,
                                    const std::int64_t* rows, const std::int64_t* first,
                                    const std::int64_t* items, const T* in, T* x) {
  T s = x[rows[j] * cols + c];
  for (std::int64_t k = first[j]; k < first[j + 1]; ++k) s += in[items[k] * cols + c];
  x[rows[j] * cols + c] = s;
}

}  // namespace symgnn::kernels
