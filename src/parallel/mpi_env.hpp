// The MPI world of a run. A process started without mpirun (or srun) is a world of one rank, and
// everything works unchanged.
#pragma once

#include <mpi.h>

#include <string>
#include <type_traits>

namespace symgnn::mpi {

// MPI_Init_thread (funneled: OpenMP threads never call MPI). Safe to call once per process.
void init(int* argc, char*** argv);
void finalize();
bool active();  // init() was called and finalize() not yet
int rank();     // in MPI_COMM_WORLD (0 when MPI is not active)
int size();
// This rank's index among the ranks on its node (MPI_Comm_split_type shared memory): which GPU
// of the node it takes. 0 when MPI is not active.
int local_rank();
// Stops every rank of the job (MPI_Abort), so that one failing rank never leaves the others
// waiting in a collective. Prints nothing itself.
[[noreturn]] void abort(int code);

// The MPI datatype of float and double buffers.
template <typename T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, float>) {
    return MPI_FLOAT;
  } else {
    static_assert(std::is_same_v<T, double>);
    return MPI_DOUBLE;
  }
}

// This process's rank in `comm` and the number of ranks there; rank 0 of 1 in a process without
// MPI (a library user, a unit test).
void rank_and_size(MPI_Comm comm, int* rank, int* ranks);

// Rank 0's `text` on every rank of `comm` (left as it is without MPI or with one rank).
void broadcast(std::string& text, MPI_Comm comm);

// The MPI library's text for an error code.
std::string error_text(int rc);
// Throws Error with the MPI error string when `rc` is not MPI_SUCCESS.
void check(int rc, const char* what);

}  // namespace symgnn::mpi
