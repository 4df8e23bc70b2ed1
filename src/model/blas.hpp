// General matrix multiply on row-major arrays through CBLAS (OpenBLAS), for float and double:
// C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
#pragma once

#include <cstdint>

namespace symgnn {

template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

}  // namespace symgnn
