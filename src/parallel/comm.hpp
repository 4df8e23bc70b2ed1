// Comm: the halo exchange of a decomposed batch (LAMMPS's names). forward_comm sends owned
// atoms' rows to the ranks that hold them as ghosts; reverse_comm sends ghost rows back and adds
// them into their owners. Each rank talks only to the ranks it shares ghosts with, one message
// each way (MPI_Neighbor_alltoallv on a graph communicator) rather than LAMMPS's six staged
// swaps: ghosts then come straight from their owners however far away, which handles
// subdomains thinner than the cutoff, and at most 26 neighbours per rank for thicker ones.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backend/array.hpp"
#include "backend/growing_buffer.hpp"
#include "backend/reducer.hpp"
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

  // Keeps the row lists in `memory` (uploaded once) and the exchanges' buffers (grown, never
  // shrunk) for the Comm's life, and keeps `memory` alive as long: exchanges on it then allocate
  // and upload nothing. Exchanges on any other memory make their lists and buffers each time.
  void keep_on(std::shared_ptr<Memory> memory);

  void sum(double* values, std::int64_t count) const override;
  void forward_comm(Backend<float>& be, float* rows, std::int64_t cols) const override;
  void forward_comm(Backend<double>& be, double* rows, std::int64_t cols) const override;
  void reverse_comm(Backend<float>& be, float* rows, std::int64_t cols) const override;
  void reverse_comm(Backend<double>& be, double* rows, std::int64_t cols) const override;

  // Wall seconds spent in forward_comm and reverse_comm so far: packing, MPI, and the waits for
  // slower neighbours (the part of load imbalance that shows here) and, on a GPU, for the work
  // queued before an exchange.
  double seconds() const { return seconds_; }
  int neighbours() const { return static_cast<int>(peers_.size()); }
  // How the last exchange moved its rows: "direct" (host memory, or CUDA-aware MPI on device
  // pointers) or "staged" (through a pinned host buffer).
  const char* transport() const { return staged_ ? "staged" : "direct"; }

 private:
  // An exchange's row lists where a backend reads them (views of the host lists in host memory,
  // uploaded copies otherwise) and its buffers, on one memory.
  struct Workspace {
    Workspace(const Comm& comm, std::shared_ptr<Memory> on);
    std::shared_ptr<Memory> memory;  // first, so released last
    const std::int64_t *send, *recv, *self_from, *self_to, *group_rows, *group_first, *group_items;
    std::vector<Array<std::int64_t>> uploaded;
    GrowingBuffer packed;  // in the memory
    GrowingBuffer pinned;  // pinned host memory, for the staged transport
  };
  // The kept workspace when `memory` is the kept one, otherwise one made in `once`.
  Workspace& workspace(Memory& memory, std::optional<Workspace>& once) const;
  // One exchange with every peer of the packed rows `out` (counts per peer out_count) into `in`
  // (in_count per peer), both in the backend's memory.
  template <typename T>
  void swap(Backend<T>& be, Workspace& w, const T* out, const std::vector<int>& out_count, T* in,
            const std::vector<int>& in_count, std::int64_t cols, const char* what) const;
  struct Counts {
    std::int64_t sends, recvs, selfs;  // rows sent, received, copied of our own
  };
  // Runs `step(workspace, packed, counts)` timed, with `packed` room in the backend's memory for
  // as many rows as the Comm sends, receives and copies of its own: an exchange's rows, out and in.
  template <typename T, typename Step>
  void exchange(Backend<T>& be, std::int64_t cols, Step&& step) const;
  template <typename T>
  void forward(Backend<T>& be, T* rows, std::int64_t cols) const;
  template <typename T>
  void reverse(Backend<T>& be, T* rows, std::int64_t cols) const;

  MPI_Comm graph_ = MPI_COMM_NULL;  // the ranks we share ghosts with
  std::int64_t num_owned_;
  std::vector<int> peers_;
  std::vector<std::int64_t> send_rows_;  // own rows to send, grouped by peer
  std::vector<int> send_count_;
  std::vector<std::int64_t> recv_rows_;  // ghost rows receiving, grouped by peer
  std::vector<int> recv_count_;
  std::vector<std::int64_t> self_from_, self_to_;  // ghosts of our own atoms (thin boxes)
  // reverse_comm's sums: owned row group_rows_[j] adds the rows group_items_[group_first_[j]..]
  // of [what the peers send back; our own ghost images], in the order of those lists.
  std::vector<std::int64_t> group_rows_, group_first_, group_items_;
  std::unique_ptr<Workspace> kept_;
  std::unique_ptr<Reducer> sums_;  // the batch's sums, over `world`
  mutable bool staged_ = false;
  mutable double seconds_ = 0;
};

// Sums over all ranks of the job (MPI_COMM_WORLD) and nothing else, for figures that belong to
// no single batch (label statistics, Pearson sums, gradients). With one rank: a no-op.
const Exchange& world_sums();

}  // namespace symgnn
