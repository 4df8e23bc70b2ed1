// How many OpenMP threads a CPU loop gets, from the element operations it does.
#pragma once

#include <omp.h>

#include <cstdint>

namespace symgnn {

// A parallel region costs microseconds on idle cores but up to a scheduler time slice at each
// barrier when the cores are shared (ctest -j, more MPI ranks than cores), so loops smaller than
// this run on the calling thread: small graphs (tests, explanation subgraphs, thin subdomains) do
// not pay thousands of barriers. Reductions split by thread stay reproducible: the split is a
// function of the work and OMP_NUM_THREADS only.
inline constexpr std::int64_t kParallelWork = std::int64_t{1} << 15;

inline bool parallel_worth(std::int64_t work) {
  return work >= kParallelWork;
}

inline int threads_for(std::int64_t work) {
  return parallel_worth(work) ? omp_get_max_threads() : 1;
}

}  // namespace symgnn
