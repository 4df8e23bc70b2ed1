// Kernel arithmetic is written once as a host/device function: the CPU backend calls it in a loop,
// the CUDA backend from a kernel, so both compute the same thing.
#pragma once

#if defined(__CUDACC__)
#define SYMGNN_HD __host__ __device__
#else
#define SYMGNN_HD
#endif

// A loop over features that the host compiler should vectorise; a CUDA thread runs it as is
// (and nvcc's host pass, which builds the CUDA backend's host code without OpenMP, skips it).
#if defined(__CUDACC__)
#define SYMGNN_SIMD
#define SYMGNN_SIMD_SUM(x)
#else
#define SYMGNN_SIMD _Pragma("omp simd")
// The same for a loop that sums into x (in lanes, then across them).
#define SYMGNN_SIMD_SUM(x) _Pragma(SYMGNN_STRINGIFY(omp simd reduction(+ : x)))
#define SYMGNN_STRINGIFY(a) #a
#endif
