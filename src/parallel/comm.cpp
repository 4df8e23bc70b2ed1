#include "parallel/comm.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "parallel/mpi_env.hpp"

namespace symgnn {

namespace {

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

int to_int(std::int64_t v, const char* what) {
  if (v > std::numeric_limits<int>::max())
    throw Error(std::string("halo exchange: ") + what + " exceeds MPI's int counts");
  return static_cast<int>(v);
}

}  // namespace

Comm::Comm(MPI_Comm world, std::int64_t num_owned, const std::vector<int>& ghost_rank,
           const std::vector<std::int64_t>& ghost_index)
    : world_(world), num_owned_(num_owned) {
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
  std::vector<int> want_count(static_cast<std::size_t>(size)),
      asked_count(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r)
    want_count[static_cast<std::size_t>(r)] =
        to_int(static_cast<std::int64_t>(want[static_cast<std::size_t>(r)].size()), "ghost count");
  mpi::check(MPI_Alltoall(want_count.data(), 1, MPI_INT, asked_count.data(), 1, MPI_INT, world),
             "exchanging ghost counts");
  std::vector<int> want_first(static_cast<std::size_t>(size), 0),
      asked_first(static_cast<std::size_t>(size), 0);
  for (int r = 1; r < size; ++r) {
    want_first[static_cast<std::size_t>(r)] =
        want_first[static_cast<std::size_t>(r) - 1] + want_count[static_cast<std::size_t>(r) - 1];
    asked_first[static_cast<std::size_t>(r)] =
        asked_first[static_cast<std::size_t>(r) - 1] + asked_count[static_cast<std::size_t>(r) - 1];
  }
  std::vector<std::int64_t> want_all,
      asked_all(static_cast<std::size_t>(asked_first.back() + asked_count.back()));
  for (const auto& w : want) want_all.insert(want_all.end(), w.begin(), w.end());
  mpi::check(
      MPI_Alltoallv(want_all.data(), want_count.data(), want_first.data(), MPI_INT64_T,
                    asked_all.data(), asked_count.data(), asked_first.data(), MPI_INT64_T, world),
      "exchanging ghost lists");
  // Peers: ranks we receive from or send to (a symmetric relation, so both sides agree).
  for (int r = 0; r < size; ++r) {
    const auto q = static_cast<std::size_t>(r);
    if (want_count[q] == 0 && asked_count[q] == 0) continue;
    peers_.push_back(r);
    send_first_.push_back(static_cast<int>(send_rows_.size()));
    send_count_.push_back(asked_count[q]);
    for (int k = 0; k < asked_count[q]; ++k) {
      const std::int64_t row = asked_all[static_cast<std::size_t>(asked_first[q] + k)];
      if (row < 0 || row >= num_owned)
        throw Error("halo exchange: rank " + std::to_string(r) + " asked for row " +
                    std::to_string(row) + " of " + std::to_string(num_owned));
      send_rows_.push_back(row);
    }
    recv_first_.push_back(static_cast<int>(recv_rows_.size()));
    recv_count_.push_back(want_count[q]);
    recv_rows_.insert(recv_rows_.end(), into[q].begin(), into[q].end());
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

void Comm::sum(double* values, std::int64_t count) const {
  mpi::check(
      MPI_Allreduce(MPI_IN_PLACE, values, to_int(count, "a sum"), MPI_DOUBLE, MPI_SUM, world_),
      "summing over ranks");
}

// One exchange with every peer: rows[pack[k]] go out in the peers' order (pack_count rows to
// each); what the peers send back (unpack_count rows from each) is returned, in the same order.
template <typename T>
std::vector<T> Comm::swap(const T* rows, std::int64_t cols, const Lists& pack, const Lists& unpack,
                          const char* what) const {
  const int c = to_int(cols, "a row");
  std::vector<T> out(pack.rows->size() * static_cast<std::size_t>(cols)),
      in(unpack.rows->size() * static_cast<std::size_t>(cols));
  for (std::size_t k = 0; k < pack.rows->size(); ++k)
    std::copy(rows + (*pack.rows)[k] * cols, rows + ((*pack.rows)[k] + 1) * cols,
              out.begin() + static_cast<std::ptrdiff_t>(k) * cols);
  std::vector<int> sc(peers_.size()), sf(peers_.size()), rc(peers_.size()), rf(peers_.size());
  for (std::size_t p = 0; p < peers_.size(); ++p) {
    sc[p] = (*pack.count)[p] * c;
    sf[p] = (*pack.first)[p] * c;
    rc[p] = (*unpack.count)[p] * c;
    rf[p] = (*unpack.first)[p] * c;
  }
  mpi::check(MPI_Neighbor_alltoallv(out.data(), sc.data(), sf.data(), mpi_type<T>(), in.data(),
                                    rc.data(), rf.data(), mpi_type<T>(), graph_),
             what);
  return in;
}

template <typename T>
void Comm::forward(T* rows, std::int64_t cols) const {
  const std::vector<T> in = swap(rows, cols, sends(), receives(), "forward_comm");
  for (std::size_t k = 0; k < recv_rows_.size(); ++k)
    std::copy(in.begin() + static_cast<std::ptrdiff_t>(k) * cols,
              in.begin() + static_cast<std::ptrdiff_t>(k + 1) * cols, rows + recv_rows_[k] * cols);
  for (std::size_t k = 0; k < self_to_.size(); ++k)
    std::copy(rows + self_from_[k] * cols, rows + (self_from_[k] + 1) * cols,
              rows + self_to_[k] * cols);
}

template <typename T>
void Comm::reverse(T* rows, std::int64_t cols) const {
  const std::vector<T> in = swap(rows, cols, receives(), sends(), "reverse_comm");
  // Added in a fixed order (peers, then each peer's list, then our own images).
  for (std::size_t k = 0; k < send_rows_.size(); ++k) {
    T* dst = rows + send_rows_[k] * cols;
    const T* src = in.data() + static_cast<std::ptrdiff_t>(k) * cols;
    for (std::int64_t j = 0; j < cols; ++j) dst[j] += src[j];
  }
  for (std::size_t k = 0; k < self_to_.size(); ++k)
    for (std::int64_t j = 0; j < cols; ++j)
      rows[self_from_[k] * cols + j] += rows[self_to_[k] * cols + j];
  std::fill(
      rows + num_owned_ * cols,
      rows + (num_owned_ + static_cast<std::int64_t>(self_to_.size() + recv_rows_.size())) * cols,
      T(0));
}

namespace {

class WorldSums final : public Exchange {
 public:
  void sum(double* values, std::int64_t count) const override {
    if (!mpi::active() || mpi::size() == 1) return;
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, values, to_int(count, "a sum"), MPI_DOUBLE, MPI_SUM,
                             MPI_COMM_WORLD),
               "summing over ranks");
  }
};

}  // namespace

const Exchange& world_sums() {
  static const WorldSums sums;
  return sums;
}

}  // namespace symgnn
