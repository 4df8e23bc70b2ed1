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

// MPI_Allreduce over `comm` of buffers in host memory: the sums that come back to the host
// (BatchNorm statistics and loss terms of a batch split over ranks, label and Pearson sums).
// Those are a few hundred doubles per layer, computed on the host from a backend's column sums;
// they would cross to the device and back to go through NCCL, which costs more than MPI's
// latency for a message that small.
std::unique_ptr<Reducer> make_host_reducer(MPI_Comm comm);

// The reducer a backend's data-parallel sums take: NCCL for a CUDA backend (its communicator's
// id broadcast from rank 0 of `comm`), MPI otherwise; collective over `comm`.
std::unique_ptr<Reducer> make_reducer(MPI_Comm comm, Memory& memory);

}  // namespace symgnn
