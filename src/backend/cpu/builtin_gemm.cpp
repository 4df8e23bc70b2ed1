// The CPU backend's GEMM in SYMGNN_BACKEND_ONLY builds (GPU machines that have CUDA and a compiler
// but no BLAS): a plain loop, for the CPU reference of the backend tests there, not for speed.
#include "backend/cpu/blas.hpp"
#include "backend/cpu/threads.hpp"

namespace symgnn {

std::string blas_description() {
  return "built-in reference GEMM (a SYMGNN_BACKEND_ONLY build)";
}

// No OpenBLAS here to choose kernels for.
std::string blas_core_to_request() {
  return {};
}

void restart_with_wider_blas_kernels(char** /*argv*/) {}

template <typename T>
void blas_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc) {
#pragma omp parallel for schedule(static) if (parallel_worth(m * n * k))
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      T s = 0;
      for (std::int64_t q = 0; q < k; ++q)
        s += (ta ? a[q * lda + i] : a[i * lda + q]) * (tb ? b[j * ldb + q] : b[q * ldb + j]);
      c[i * ldc + j] = alpha * s + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
}

template void blas_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                               const float*, std::int64_t, const float*, std::int64_t, float,
                               float*, std::int64_t);
template void blas_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                                const double*, std::int64_t, const double*, std::int64_t, double,
                                double*, std::int64_t);

}  // namespace symgnn
