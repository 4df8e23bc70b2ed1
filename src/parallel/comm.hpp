// Comm: the halo exchange of a decomposed batch (LAMMPS's names). forward_comm sends owned
// atoms' rows to the ranks that hold them as ghosts; reverse_comm sends ghost rows back and adds
// them into their owners. Each rank talks only to the ranks it shares ghosts with, one message
// each way (MPI_Neighbor_alltoallv on a graph communicator) rather than LAMMPS's six staged
// swaps: ghosts then come straight from their owners however far away, which handles
// subdomains thinner than the cutoff, and at most 26 neighbours per rank for thicker ones.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "model/exchange.hpp"

namespace symgnn {

class Comm final : public Exchange {
 public:
  // Collective over `world`. ghost_rank/ghost_index: owner and owner's local index per ghost
  // (ghost g is local node num_owned + g).
  Comm(MPI_Comm world, std::int64_t num_owned, const std::vector<int>& ghost_rank,
       const std::vector<std::int64_t>& ghost_index);
  ~Comm() override;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  void sum(double* values, std::int64_t count) const override;
  void forward_comm(float* rows, std::int64_t cols) const override { forward(rows, cols); }
  void forward_comm(double* rows, std::int64_t cols) const override { forward(rows, cols); }
  void reverse_comm(float* rows, std::int64_t cols) const override { reverse(rows, cols); }
  void reverse_comm(double* rows, std::int64_t cols) const override { reverse(rows, cols); }

  std::int64_t ghosts_sent() const { return static_cast<std::int64_t>(send_rows_.size()); }
  int neighbours() const { return static_cast<int>(peers_.size()); }

 private:
  struct Lists {  // rows grouped by peer: how many for each peer, and where each peer's start
    const std::vector<std::int64_t>* rows;
    const std::vector<int>* count;
    const std::vector<int>* first;
  };
  Lists sends() const { return {&send_rows_, &send_count_, &send_first_}; }
  Lists receives() const { return {&recv_rows_, &recv_count_, &recv_first_}; }
  template <typename T>
  std::vector<T> swap(const T* rows, std::int64_t cols, const Lists& pack, const Lists& unpack,
                      const char* what) const;
  template <typename T>
  void forward(T* rows, std::int64_t cols) const;
  template <typename T>
  void reverse(T* rows, std::int64_t cols) const;

  MPI_Comm world_;
  MPI_Comm graph_ = MPI_COMM_NULL;  // the ranks we share ghosts with
  std::int64_t num_owned_;
  std::vector<int> peers_;
  std::vector<std::int64_t> send_rows_;  // own rows to send, grouped by peer
  std::vector<int> send_count_, send_first_;
  std::vector<std::int64_t> recv_rows_;  // ghost rows receiving, grouped by peer
  std::vector<int> recv_count_, recv_first_;
  std::vector<std::int64_t> self_from_, self_to_;  // ghosts of our own atoms (thin boxes)
};

// Sums over all ranks of the job (MPI_COMM_WORLD) and nothing else, for figures that belong to
// no single batch (label statistics, Pearson sums, gradients). With one rank: a no-op.
const Exchange& world_sums();

}  // namespace symgnn
