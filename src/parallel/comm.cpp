#include "parallel/comm.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>

#include "core/error.hpp"
#include "parallel/alltoall.hpp"
#include "parallel/mpi_env.hpp"
#include "parallel/reducer.hpp"

namespace symgnn {

namespace {

int to_int(std::int64_t v, const char* what) {
  if (v > std::numeric_limits<int>::max())
    throw Error(std::string("halo exchange: ") + what + " exceeds MPI's int counts");
  return static_cast<int>(v);
}

}  // namespace

Comm::Comm(MPI_Comm world, std::int64_t num_owned, const std::vector<int>& ghost_rank,
           const std::vector<std::int64_t>& ghost_index)
    : num_owned_(num_owned), sums_(make_host_reducer(world)) {
  int size = 1, me = 0;
  MPI_Comm_size(world, &size);
  MPI_Comm_rank(world, &me);
  // Requests per owner: which of its rows we need, and where they go.
  std::vector<std::vector<std::int64_t>> want(static_cast<std::size_t>(size)),
      into(static_cast<std::size_t>(size));
  for (std::size_t g = 0; g < ghost_rank.size(); ++g) {
    const std::int64_t local = num_owned + static_cast<std::int64_t>(g);
    if (ghost_rank[g] == me) {
      self_from_.push_back(ghost_index[g]);
      self_to_.push_back(local);
    } else {
      want[static_cast<std::size_t>(ghost_rank[g])].push_back(ghost_index[g]);
      into[static_cast<std::size_t>(ghost_rank[g])].push_back(local);
    }
  }
  // Each owner learns which of its rows each peer wants, in the peers' rank order.
  std::vector<int> asked_count;
  const std::vector<std::int64_t> asked =
      alltoall_records(world, want, &asked_count, "exchanging ghost lists");
  // Peers: ranks we receive from or send to (a symmetric relation, so both sides agree).
  std::size_t next = 0;
  for (int r = 0; r < size; ++r) {
    const auto q = static_cast<std::size_t>(r);
    if (want[q].empty() && asked_count[q] == 0) continue;
    peers_.push_back(r);
    send_count_.push_back(asked_count[q]);
    for (int k = 0; k < asked_count[q]; ++k) {
      const std::int64_t row = asked[next++];
      if (row < 0 || row >= num_owned)
        throw Error("halo exchange: rank " + std::to_string(r) + " asked for row " +
                    std::to_string(row) + " of " + std::to_string(num_owned));
      send_rows_.push_back(row);
    }
    recv_count_.push_back(static_cast<int>(want[q].size()));
    recv_rows_.insert(recv_rows_.end(), into[q].begin(), into[q].end());
  }
  // reverse_comm adds, into each owned row, what the peers send back for it and then its own
  // ghost images, in that order.
  std::map<std::int64_t, std::vector<std::int64_t>> adds;
  for (std::size_t k = 0; k < send_rows_.size(); ++k)
    adds[send_rows_[k]].push_back(static_cast<std::int64_t>(k));
  for (std::size_t k = 0; k < self_from_.size(); ++k)
    adds[self_from_[k]].push_back(static_cast<std::int64_t>(send_rows_.size() + k));
  group_first_.push_back(0);
  for (const auto& [row, items] : adds) {
    group_rows_.push_back(row);
    group_items_.insert(group_items_.end(), items.begin(), items.end());
    group_first_.push_back(static_cast<std::int64_t>(group_items_.size()));
  }
  const int k = static_cast<int>(peers_.size());
  mpi::check(
      MPI_Dist_graph_create_adjacent(world, k, peers_.data(), MPI_UNWEIGHTED, k, peers_.data(),
                                     MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &graph_),
      "creating the neighbour communicator");
}

Comm::~Comm() {
  if (graph_ != MPI_COMM_NULL && mpi::active()) MPI_Comm_free(&graph_);
}

Comm::Workspace::Workspace(const Comm& comm, std::shared_ptr<Memory> on)
    : memory(std::move(on)),
      packed(*memory, GrowingBuffer::Where::kBackend),
      pinned(*memory, GrowingBuffer::Where::kPinnedHost) {
  const std::vector<std::int64_t>* host[] = {
      &comm.send_rows_,  &comm.recv_rows_,   &comm.self_from_,  &comm.self_to_,
      &comm.group_rows_, &comm.group_first_, &comm.group_items_};
  const std::int64_t** at[] = {&send,       &recv,        &self_from,  &self_to,
                               &group_rows, &group_first, &group_items};
  uploaded.reserve(7);
  for (std::size_t k = 0; k < 7; ++k) {
    if (memory->host_memory()) {
      *at[k] = host[k]->data();
      continue;
    }
    uploaded.emplace_back(*memory);
    uploaded.back().upload(host[k]->data(), static_cast<std::int64_t>(host[k]->size()), 1);
    *at[k] = uploaded.back().ptr();
  }
}

void Comm::keep_on(std::shared_ptr<Memory> memory) {
  kept_ = std::make_unique<Workspace>(*this, std::move(memory));
}

Comm::Workspace& Comm::workspace(Memory& memory, std::optional<Workspace>& once) const {
  if (kept_ && kept_->memory.get() == &memory) return *kept_;
  // Not owned: the caller's memory outlives this one exchange.
  return once.emplace(*this, std::shared_ptr<Memory>(std::shared_ptr<Memory>(), &memory));
}

void Comm::sum(double* values, std::int64_t count) const {
  sums_->sum(values, count);
}

// MPI takes the packed rows where they are when it can (host memory, or device pointers with
// CUDA-aware MPI), and otherwise from a pinned host buffer.
template <typename T>
void Comm::swap(Backend<T>& be, Workspace& w, const T* out, const std::vector<int>& out_count,
                T* in, const std::vector<int>& in_count, std::int64_t cols,
                const char* what) const {
  const int c = to_int(cols, "a row");
  std::vector<int> sc(peers_.size()), sf(peers_.size()), rc(peers_.size()), rf(peers_.size());
  std::int64_t out_rows = 0, in_rows = 0;
  for (std::size_t p = 0; p < peers_.size(); ++p) {
    sc[p] = to_int(std::int64_t{out_count[p]} * c, "a message");
    sf[p] = to_int(out_rows * c, "a message");
    rc[p] = to_int(std::int64_t{in_count[p]} * c, "a message");
    rf[p] = to_int(in_rows * c, "a message");
    out_rows += out_count[p];
    in_rows += in_count[p];
  }
  staged_ = !be.host_memory() && !mpi_cuda_aware();
  const T* send = out;
  T* recv = in;
  const std::size_t out_bytes = static_cast<std::size_t>(out_rows * cols) * sizeof(T),
                    in_bytes = static_cast<std::size_t>(in_rows * cols) * sizeof(T);
  if (staged_) {
    T* host = static_cast<T*>(w.pinned.get(out_bytes + in_bytes));
    be.copy_out(host, out, out_bytes);
    send = host;
    recv = host + out_rows * cols;
  }
  mpi::check(MPI_Neighbor_alltoallv(send, sc.data(), sf.data(), mpi::datatype<T>(), recv, rc.data(),
                                    rf.data(), mpi::datatype<T>(), graph_),
             what);
  if (staged_) be.copy_in(in, recv, in_bytes);
}

template <typename T, typename Step>
void Comm::exchange(Backend<T>& be, std::int64_t cols, Step&& step) const {
  const double t0 = MPI_Wtime();
  std::optional<Workspace> once;
  Workspace& w = workspace(be, once);
  const Counts n{static_cast<std::int64_t>(send_rows_.size()),
                 static_cast<std::int64_t>(recv_rows_.size()),
                 static_cast<std::int64_t>(self_to_.size())};
  const auto bytes = static_cast<std::size_t>((n.sends + n.recvs + n.selfs) * cols) * sizeof(T);
  step(w, static_cast<T*>(w.packed.get(bytes)), n);
  seconds_ += MPI_Wtime() - t0;
}

template <typename T>
void Comm::forward(Backend<T>& be, T* rows, std::int64_t cols) const {
  exchange(be, cols, [&](Workspace& w, T* out, const Counts& n) {
    T* in = out + n.sends * cols;
    T* own = in + n.recvs * cols;  // images of our own atoms
    be.gather_rows(n.sends, cols, w.send, rows, out);
    swap(be, w, out, send_count_, in, recv_count_, cols, "forward_comm");
    be.scatter_rows(n.recvs, cols, w.recv, in, rows);
    be.gather_rows(n.selfs, cols, w.self_from, rows, own);
    be.scatter_rows(n.selfs, cols, w.self_to, own, rows);
  });
}

template <typename T>
void Comm::reverse(Backend<T>& be, T* rows, std::int64_t cols) const {
  exchange(be, cols, [&](Workspace& w, T* out, const Counts& n) {
    T* in = out + n.recvs * cols;  // what the peers send back, then our own ghost images
    be.gather_rows(n.recvs, cols, w.recv, rows, out);
    swap(be, w, out, recv_count_, in, send_count_, cols, "reverse_comm");
    be.gather_rows(n.selfs, cols, w.self_to, rows, in + n.sends * cols);
    // Added in a fixed order (peers, then each peer's list, then our own images).
    be.add_row_groups(static_cast<std::int64_t>(group_rows_.size()), cols, w.group_rows,
                      w.group_first, w.group_items, in, rows);
    be.zero(rows + num_owned_ * cols,
            static_cast<std::size_t>((n.selfs + n.recvs) * cols) * sizeof(T));
  });
}

void Comm::forward_comm(Backend<float>& be, float* rows, std::int64_t cols) const {
  forward(be, rows, cols);
}
void Comm::forward_comm(Backend<double>& be, double* rows, std::int64_t cols) const {
  forward(be, rows, cols);
}
void Comm::reverse_comm(Backend<float>& be, float* rows, std::int64_t cols) const {
  reverse(be, rows, cols);
}
void Comm::reverse_comm(Backend<double>& be, double* rows, std::int64_t cols) const {
  reverse(be, rows, cols);
}

namespace {

class WorldSums final : public Exchange {
 public:
  void sum(double* values, std::int64_t count) const override {
    if (!mpi::active() || mpi::size() == 1) return;
    if (!sums_) sums_ = make_host_reducer(MPI_COMM_WORLD);
    sums_->sum(values, count);
  }

 private:
  mutable std::unique_ptr<Reducer> sums_;
};

}  // namespace

const Exchange& world_sums() {
  static const WorldSums sums;
  return sums;
}

}  // namespace symgnn
