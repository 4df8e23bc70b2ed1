// Reducers over MPI: MPI_Allreduce in place, and the choice of reducer for a backend.
#pragma once

#include <mpi.h>

#include <memory>

#include "backend/backend.hpp"
#include "backend/reducer.hpp"

namespace symgnn {

// Whether the MPI library takes device pointers (Open MPI built with CUDA, asked at run time).
bool mpi_cuda_aware();

// MPI_Allreduce over `comm`, in place: on the buffer itself in host memory or where MPI is
// CUDA-aware, otherwise through a pinned host buffer of `memory`'s, kept between calls.
std::unique_ptr<Reducer> make_mpi_reducer(MPI_Comm comm, Memory& memory);

// The reducer a backend's data-parallel sums take: NCCL for a CUDA backend (its communicator's
// id broadcast from rank 0 of `comm`), MPI otherwise; collective over `comm`.
std::unique_ptr<Reducer> make_reducer(MPI_Comm comm, Memory& memory);

}  // namespace symgnn
