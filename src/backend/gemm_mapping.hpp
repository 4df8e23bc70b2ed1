// The column-major call (cuBLAS's convention) that computes a row-major product. A row-major
// m x n matrix is the column-major n x m matrix of its transpose, so C = op(A) op(B) in row-major
// is C^T = op(B)^T op(A)^T in column-major: the operands swap places, m and n swap, and every
// leading dimension stays what it was. The CUDA backend passes these fields to cublasSgemm; the
// CPU tests pass them to cblas_sgemm(CblasColMajor, ...) to prove the mapping without a GPU.
#pragma once

#include <cstdint>

namespace symgnn {

// The column-major call's first operand is the row-major B, its second the row-major A.
struct ColumnMajorGemm {
  bool trans_first, trans_second;
  std::int64_t m, n, k;
  std::int64_t ld_first, ld_second, ldc;
};

// C (m x n, row-major, ldc) = alpha op(A) op(B) + beta C with op(A) m x k and op(B) k x n.
inline ColumnMajorGemm column_major_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
                                         std::int64_t k, std::int64_t lda, std::int64_t ldb,
                                         std::int64_t ldc) {
  return {trans_b, trans_a, n, m, k, ldb, lda, ldc};
}

}  // namespace symgnn
