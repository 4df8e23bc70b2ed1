// Personalised all-to-all of plain records: what a rank sends each other rank, in one
// MPI_Alltoallv. Used where atoms move between ranks once (to their owners, to their ghosts,
// back to the rank whose block of a file holds them) and to set up the halo's lists, not for the
// per-layer halo exchange itself (parallel/comm).
#pragma once

#include <mpi.h>

#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "parallel/mpi_env.hpp"

namespace symgnn {

// MPI's counts and displacements are ints: refuse a total that would overflow them.
inline void check_int_count(std::size_t records, const char* direction, const char* what) {
  if (records > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error(std::string(what) + ": " + std::to_string(records) + " records to " + direction +
                ", more than MPI's int counts hold");
}

// Sends out[r] to rank r of `world` and returns what this rank receives, in the senders' rank
// order; `counts`, if given, receives how many records came from each rank. Collective.
template <typename Record>
std::vector<Record> alltoall_records(MPI_Comm world, const std::vector<std::vector<Record>>& out,
                                     std::vector<int>* counts, const char* what) {
  static_assert(std::is_trivially_copyable_v<Record>);
  const auto ranks = out.size();
  std::vector<int> send_count(ranks), recv_count(ranks), send_first(ranks, 0), recv_first(ranks, 0);
  std::size_t total = 0;
  for (const auto& list : out) total += list.size();
  check_int_count(total, "send", what);
  for (std::size_t r = 0; r < ranks; ++r) send_count[r] = static_cast<int>(out[r].size());
  mpi::check(MPI_Alltoall(send_count.data(), 1, MPI_INT, recv_count.data(), 1, MPI_INT, world),
             what);
  std::size_t received = 0;
  for (int c : recv_count) received += static_cast<std::size_t>(c);
  check_int_count(received, "receive", what);
  for (std::size_t r = 1; r < ranks; ++r) {
    send_first[r] = send_first[r - 1] + send_count[r - 1];
    recv_first[r] = recv_first[r - 1] + recv_count[r - 1];
  }
  std::vector<Record> send, recv(received);
  send.reserve(total);
  for (const auto& list : out) send.insert(send.end(), list.begin(), list.end());
  MPI_Datatype type;
  MPI_Type_contiguous(static_cast<int>(sizeof(Record)), MPI_BYTE, &type);
  MPI_Type_commit(&type);
  const int rc = MPI_Alltoallv(send.data(), send_count.data(), send_first.data(), type, recv.data(),
                               recv_count.data(), recv_first.data(), type, world);
  MPI_Type_free(&type);
  mpi::check(rc, what);
  if (counts) *counts = std::move(recv_count);
  return recv;
}

}  // namespace symgnn
