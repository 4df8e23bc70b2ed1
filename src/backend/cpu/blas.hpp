// General matrix multiply on row-major arrays through CBLAS (OpenBLAS), for float and double:
// C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T. And the choice of OpenBLAS's kernels.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace symgnn {

template <typename T>
void blas_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc);

// The BLAS library and the kernels it runs here (OpenBLAS chooses them by CPU at start-up, or as
// OPENBLAS_CORETYPE says), for `symgnn-dist devices` and benchmark records.
std::string blas_description();

// The vector units of this CPU that BLAS kernels use (as the OS enables them).
struct CpuVectors {
  bool avx = false;
  bool avx2_fma = false;
  bool avx512 = false;  // F, CD, BW, DQ and VL: what OpenBLAS's SkylakeX kernels need
};
CpuVectors cpu_vectors();

// The OpenBLAS core type to ask for (OPENBLAS_CORETYPE) when `loaded_core`, the kernels OpenBLAS
// chose at start-up, is one of its SSE-era cores while `cpu` has wider vector units; empty when
// the choice stands. OpenBLAS falls back to SSE kernels on CPUs newer than it knows: Debian's
// 0.3.21 runs "Prescott" on Sapphire and Emerald Rapids, 1.7 times slower per training epoch.
std::string wider_blas_core(std::string_view loaded_core, CpuVectors cpu);

// The OpenBLAS core type this process should have started with: wider_blas_core of the kernels
// loaded and this CPU, unless OPENBLAS_CORETYPE is set (the user's choice stands). Empty: none.
std::string blas_core_to_request();

// When OpenBLAS loaded its SSE fallback on a wider CPU and the user set no OPENBLAS_CORETYPE:
// start this program again (exec: same arguments, environment and process id) with the wider
// kernels, since OpenBLAS chooses them once, when it loads. Call first in main, before MPI or
// any thread starts. Returns, changing nothing, otherwise or when the exec fails.
void restart_with_wider_blas_kernels(char** argv);

}  // namespace symgnn
