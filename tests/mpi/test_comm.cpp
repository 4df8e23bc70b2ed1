// The halo exchange on backend memory: packing and unpacking as backend operations, MPI on the
// packed rows where they lie or through a pinned host buffer; the same rows either way, and the
// reverse sums in a fixed order. Each rank owns 3 rows and holds 4 ghosts: rows 0 and 2 of the
// next rank, row 1 of its own (a periodic image), row 0 of the previous rank (on 2 ranks the
// same rank as the next, so one owned row goes out twice and comes back as two terms).
#include <gtest/gtest.h>

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

TEST(Comm, ForwardAndReverseOnHostAndStagedMemory) {
  const int p = mpi::size(), r = mpi::rank(), next = (r + 1) % p, prev = (r + p - 1) % p;
  const std::vector<int> owner = {next, next, r, prev};
  const std::vector<std::int64_t> index = {0, 2, 1, 0};
  const Comm comm(MPI_COMM_WORLD, kOwned, owner, index);
  const std::int64_t rows = kOwned + static_cast<std::int64_t>(owner.size());
  std::vector<float> start(static_cast<std::size_t>(rows * kCols), -1.0f);
  for (std::int64_t i = 0; i < kOwned; ++i)
    for (std::int64_t c = 0; c < kCols; ++c) start[i * kCols + c] = value(r, i, c);

  // forward_comm: every ghost row holds its owner's row.
  std::vector<float> want_forward = start;
  for (std::size_t g = 0; g < owner.size(); ++g)
    for (std::int64_t c = 0; c < kCols; ++c)
      want_forward[(kOwned + g) * kCols + c] = value(owner[g], index[g], c);
  // reverse_comm from ghost rows holding 1000 (g + 1) + c: owned rows add what their ghosts
  // elsewhere hold; ghost rows end at zero.
  std::vector<float> ghosts = want_forward;
  for (std::size_t g = 0; g < owner.size(); ++g)
    for (std::int64_t c = 0; c < kCols; ++c)
      ghosts[(kOwned + g) * kCols + c] = static_cast<float>(1000 * (g + 1) + c);
  std::vector<float> want_reverse = ghosts;
  for (int q = 0; q < p; ++q) {  // rank q's ghosts of our rows
    const std::vector<int> of = {(q + 1) % p, (q + 1) % p, q, (q + p - 1) % p};
    for (std::size_t g = 0; g < of.size(); ++g)
      if (of[g] == r)
        for (std::int64_t c = 0; c < kCols; ++c)
          want_reverse[index[g] * kCols + c] += static_cast<float>(1000 * (g + 1) + c);
  }
  for (std::int64_t k = kOwned * kCols; k < rows * kCols; ++k) want_reverse[k] = 0;

  const auto cpu = make_cpu_backend<float>();
  SeparateMemoryBackend separate;
  for (Backend<float>* be :
       {static_cast<Backend<float>*>(cpu.get()), static_cast<Backend<float>*>(&separate)}) {
    Array<float> a(*be);
    a.upload(start.data(), rows, kCols);
    comm.forward_comm(*be, a.ptr(), kCols);
    EXPECT_EQ(a.download(), want_forward) << be->name();
    a.upload(ghosts.data(), rows, kCols);
    comm.reverse_comm(*be, a.ptr(), kCols);
    EXPECT_EQ(a.download(), want_reverse) << be->name();
    EXPECT_STREQ(comm.transport(), be->host_memory() || mpi_cuda_aware() ? "direct" : "staged")
        << be->name();
  }
}

}  // namespace
}  // namespace symgnn
