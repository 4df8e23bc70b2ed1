#include "backend/cpu/blas.hpp"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>

namespace symgnn {

namespace {
CBLAS_TRANSPOSE op(bool t) {
  return t ? CblasTrans : CblasNoTrans;
}

// Set with OPENBLAS_CORETYPE by restart_with_wider_blas_kernels: the core OpenBLAS had chosen.
constexpr const char* kFallbackVariable = "SYMGNN_OPENBLAS_FALLBACK";
}  // namespace

std::string blas_description() {
  std::string d = std::string(openblas_get_config()) + "; " + openblas_get_corename() + " kernels";
  if (const char* fallback = std::getenv(kFallbackVariable))
    d += std::string(" (OPENBLAS_CORETYPE set at start-up: OpenBLAS had chosen ") + fallback +
         " for this CPU)";
  return d;
}

std::string blas_core_to_request() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return {};
  return wider_blas_core(openblas_get_corename(), cpu_vectors());
}

void restart_with_wider_blas_kernels(char** argv) {
  const std::string core = blas_core_to_request();
  if (core.empty()) return;
  ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  ::setenv(kFallbackVariable, openblas_get_corename(), 1);
  ::execv("/proc/self/exe", argv);
  // No /proc, or exec refused: go on with the kernels loaded, and say nothing that is not so.
  ::unsetenv("OPENBLAS_CORETYPE");
  ::unsetenv(kFallbackVariable);
}

template <>
void blas_gemm<float>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                      const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                      float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, op(ta), op(tb), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

template <>
void blas_gemm<double>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k,
                       double alpha, const double* a, std::int64_t lda, const double* b,
                       std::int64_t ldb, double beta, double* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, op(ta), op(tb), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

}  // namespace symgnn
