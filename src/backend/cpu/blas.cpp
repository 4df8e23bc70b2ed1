#include "backend/cpu/blas.hpp"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.hpp"

namespace symgnn {

namespace {
CBLAS_TRANSPOSE op(bool t) {
  return t ? CblasTrans : CblasNoTrans;
}

// CBLAS takes int sizes: a larger matrix is an error, never a wrapped size.
int blas_int(std::int64_t v) {
  if (v > std::numeric_limits<int>::max())
    throw Error("BLAS: a matrix dimension of " + std::to_string(v) +
                " exceeds the 32-bit sizes CBLAS takes (split the structure over more ranks)");
  return static_cast<int>(v);
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
  cblas_sgemm(CblasRowMajor, op(ta), op(tb), blas_int(m), blas_int(n), blas_int(k), alpha, a,
              blas_int(lda), b, blas_int(ldb), beta, c, blas_int(ldc));
}

template <>
void blas_gemm<double>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k,
                       double alpha, const double* a, std::int64_t lda, const double* b,
                       std::int64_t ldb, double beta, double* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, op(ta), op(tb), blas_int(m), blas_int(n), blas_int(k), alpha, a,
              blas_int(lda), b, blas_int(ldb), beta, c, blas_int(ldc));
}

}  // namespace symgnn
