#include <algorithm>
#include <array>

#include "backend/cpu/blas.hpp"

namespace symgnn {

CpuVectors cpu_vectors() {
  // libgcc's checks include the OS's XCR0 state, so AVX-512 here is AVX-512 the kernels may use.
  __builtin_cpu_init();
  CpuVectors v;
  v.avx = __builtin_cpu_supports("avx");
  v.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  v.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  return v;
}

std::string wider_blas_core(std::string_view loaded_core, CpuVectors cpu) {
  // OpenBLAS's dynamic-architecture cores whose kernels use SSE at most (its corename table).
  static constexpr std::array<std::string_view, 16> sse_cores = {
      "Unknown", "Katmai",        "Coppermine", "Northwood",  "Prescott", "Banias",
      "Atom",    "Core2",         "Penryn",     "Dunnington", "Nehalem",  "Athlon",
      "Opteron", "Opteron(SSE3)", "Barcelona",  "Nano"};
  if (std::find(sse_cores.begin(), sse_cores.end(), loaded_core) == sse_cores.end()) return {};
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2_fma) return "Haswell";
  if (cpu.avx) return "SandyBridge";
  return {};
}

}  // namespace symgnn
