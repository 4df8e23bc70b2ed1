// The data-parallel sum: a buffer in a backend's memory summed in place over the ranks that
// train one model (the gradients of a step, in one flat buffer) or that hold one batch (its
// BatchNorm statistics and loss terms, doubles). Two implementations: MPI
// (parallel/reducer.hpp: the CPU, and GPUs without NCCL) and NCCL (GPUs), the latter here, without
// MPI: the caller creates its id on one rank and broadcasts it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace symgnn {

class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual std::string name() const = 0;  // "mpi", "mpi (CUDA-aware)", "nccl"
  // data: `count` floats in the backend's memory. Every rank ends with the same sums.
  virtual void sum(float* data, std::int64_t count) = 0;
  virtual void sum(double* data, std::int64_t count) = 0;
};

// An ncclUniqueId's bytes (NCCL_UNIQUE_ID_BYTES).
using NcclId = std::array<char, 128>;
// Throws Error in a build without CUDA.
NcclId nccl_unique_id();
// A communicator of `ranks` over the GPU `device`, this process being `rank`; collective over
// those ranks, which all pass the same id.
std::unique_ptr<Reducer> make_nccl_reducer(const NcclId& id, int rank, int ranks, int device);

}  // namespace symgnn
