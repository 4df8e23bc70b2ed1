// General matrix multiply on row-major arrays through CBLAS (OpenBLAS), for float and double:
// C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
#pragma once

#include <cstdint>
#include <string>

namespace symgnn {

template <typename T>
void blas_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc);

// The BLAS library and the kernels it runs here (OpenBLAS chooses them by CPU at start-up, or as
// OPENBLAS_CORETYPE says), for `symgnn-dist devices` and benchmark records.
std::string blas_description();

}  // namespace symgnn
