// Kernel arithmetic is written once as a host/device function: the CPU backend calls it in a loop,
// the CUDA backend from a kernel, so both compute the same thing.
#pragma once

#if defined(__CUDACC__)
#define SYMGNN_HD __host__ __device__
#else
#define SYMGNN_HD
#endif
