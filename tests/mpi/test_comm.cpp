// The halo exchange on backend memory: packing and unpacking as backend operations, MPI on the
// packed rows where they lie or through a pinned host buffer; the same rows either way, and the
// reverse sums in a fixed order. Each rank owns 3 rows and holds 4 ghosts: rows 0 and 2 of the
// next rank, row 1 of its own (a periodic image), row 0 of the previous rank (on 2 ranks the
// same rank as the next, so one owned row goes out twice and comes back as two terms).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "parallel/comm.hpp"
#include "parallel/mpi_env.hpp"
#include "parallel/reducer.hpp"
#include "separate_memory_backend.hpp"

namespace symgnn {
namespace {

constexpr std::int64_t kOwned = 3, kCols = 4;

float value(int rank, std::int64_t row, std::int64_t col) {
  return static_cast<float>(100 * rank + 10 * row + col);
}

// The hand-made ghost layout of this rank, its rows before and after each exchange.
struct Case {
  std::vector<int> owner;
  std::vector<std::int64_t> index = {0, 2, 1, 0};
  std::int64_t rows = 0;
  std::vector<float> start, want_forward, ghosts, want_reverse;

  Case() {
    const int p = mpi::size(), r = mpi::rank(), next = (r + 1) % p, prev = (r + p - 1) % p;
    owner = {next, next, r, prev};
    rows = kOwned + static_cast<std::int64_t>(owner.size());
    start.assign(static_cast<std::size_t>(rows * kCols), -1.0f);
    for (std::int64_t i = 0; i < kOwned; ++i)
      for (std::int64_t c = 0; c < kCols; ++c) start[i * kCols + c] = value(r, i, c);
    // forward_comm: every ghost row holds its owner's row.
    want_forward = start;
    for (std::size_t g = 0; g < owner.size(); ++g)
      for (std::int64_t c = 0; c < kCols; ++c)
        want_forward[(kOwned + g) * kCols + c] = value(owner[g], index[g], c);
    // reverse_comm from ghost rows holding 1000 (g + 1) + c: owned rows add what their ghosts
    // elsewhere hold; ghost rows end at zero.
    ghosts = want_forward;
    for (std::size_t g = 0; g < owner.size(); ++g)
      for (std::int64_t c = 0; c < kCols; ++c)
        ghosts[(kOwned + g) * kCols + c] = static_cast<float>(1000 * (g + 1) + c);
    want_reverse = ghosts;
    for (int q = 0; q < p; ++q) {  // rank q's ghosts of our rows
      const std::vector<int> of = {(q + 1) % p, (q + 1) % p, q, (q + p - 1) % p};
      for (std::size_t g = 0; g < of.size(); ++g)
        if (of[g] == r)
          for (std::int64_t c = 0; c < kCols; ++c)
            want_reverse[index[g] * kCols + c] += static_cast<float>(1000 * (g + 1) + c);
    }
    for (std::int64_t k = kOwned * kCols; k < rows * kCols; ++k) want_reverse[k] = 0;
  }

  void exchange_and_check(const Comm& comm, Backend<float>& be) const {
    Array<float> a(be);
    a.upload(start.data(), rows, kCols);
    comm.forward_comm(be, a.ptr(), kCols);
    EXPECT_EQ(a.download(), want_forward) << be.name();
    a.upload(ghosts.data(), rows, kCols);
    comm.reverse_comm(be, a.ptr(), kCols);
    EXPECT_EQ(a.download(), want_reverse) << be.name();
  }
};

TEST(Comm, ForwardAndReverseOnHostAndStagedMemory) {
  const Case t;
  const Comm comm(MPI_COMM_WORLD, kOwned, t.owner, t.index);
  const auto cpu = make_cpu_backend<float>();
  SeparateMemoryBackend separate;
  for (Backend<float>* be :
       {static_cast<Backend<float>*>(cpu.get()), static_cast<Backend<float>*>(&separate)}) {
    t.exchange_and_check(comm, *be);
    EXPECT_STREQ(comm.transport(), be->host_memory() || mpi_cuda_aware() ? "direct" : "staged")
        << be->name();
  }
}

// Kept on a memory, a Comm uploads its row lists once and keeps its buffers: an exchange then
// moves only the rows themselves (one upload of the received rows when staged), and the memory
// stays alive while the Comm holds it. On other memory it still works, uploading its lists.
TEST(Comm, KeptOnAMemoryUploadsItsListsOnce) {
  const Case t;
  Comm comm(MPI_COMM_WORLD, kOwned, t.owner, t.index);
  auto kept = std::make_shared<SeparateMemoryBackend>();
  const std::weak_ptr<SeparateMemoryBackend> alive = kept;
  comm.keep_on(kept);
  EXPECT_GT(kept->uploads, 0);  // the lists
  const int per_exchange = mpi_cuda_aware() ? 0 : 1;
  for (int step = 0; step < 3; ++step) {
    const int before = kept->uploads;
    t.exchange_and_check(comm, *kept);  // uploads its two inputs itself
    EXPECT_EQ(kept->uploads - before, 2 + 2 * per_exchange) << "step " << step;
  }
  SeparateMemoryBackend other;
  t.exchange_and_check(comm, other);
  EXPECT_GT(other.uploads, 2 + 2 * per_exchange);  // the lists again, for each exchange
  kept.reset();
  EXPECT_FALSE(alive.expired());  // the Comm holds it
}

}  // namespace
}  // namespace symgnn
