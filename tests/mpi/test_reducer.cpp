// The data-parallel reducer: a flat buffer summed in place over the ranks, from host memory and
// from memory that is not the host's (staged through a host buffer, as a GPU without CUDA-aware
// MPI), with the same bits on every rank; and a gradient layout every rank shares.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "model/symgnn.hpp"
#include "parallel/mpi_env.hpp"
#include "parallel/reducer.hpp"
#include "separate_memory_backend.hpp"

namespace symgnn {
namespace {

// rank r holds (r + 1) (i mod 7) - 3 at i: integers, so every order of summation is exact.
template <typename T>
std::vector<T> share(std::int64_t count) {
  std::vector<T> v(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i)
    v[static_cast<std::size_t>(i)] = static_cast<T>((mpi::rank() + 1) * (i % 7) - 3);
  return v;
}

template <typename T>
void expect_summed(const std::vector<T>& got) {
  const int p = mpi::size();
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], static_cast<T>(p * (p + 1) / 2 * static_cast<int>(i % 7) - 3 * p))
        << "value " << i;
  // The same bits on every rank.
  std::vector<T> first(got);
  MPI_Bcast(first.data(), static_cast<int>(first.size() * sizeof(T)), MPI_BYTE, 0, MPI_COMM_WORLD);
  EXPECT_EQ(std::memcmp(first.data(), got.data(), got.size() * sizeof(T)), 0);
}

TEST(Reducer, SumsAFlatBufferInPlaceFromHostAndStagedMemory) {
  const std::int64_t count = 100003;
  const auto cpu = make_cpu_backend<float>();
  const auto host = make_reducer(MPI_COMM_WORLD, *cpu);
  EXPECT_EQ(host->name(), "mpi");
  std::vector<float> v = share<float>(count);
  host->sum(v.data(), count);
  expect_summed(v);

  SeparateMemory staged;
  const auto reducer = make_mpi_reducer(MPI_COMM_WORLD, staged);
  EXPECT_EQ(reducer->name(), mpi_cuda_aware() ? "mpi (CUDA-aware)" : "mpi (pinned staging)");
  for (int step = 0; step < 3; ++step) {  // the staging buffer is kept between steps
    std::vector<float> d = share<float>(count);
    reducer->sum(d.data(), count);
    expect_summed(d);
  }
  EXPECT_EQ(staged.host_buffers, mpi_cuda_aware() ? 0 : 1);
  EXPECT_EQ(staged.uploads + staged.downloads,
            mpi_cuda_aware() ? 0 : 6);  // one copy each way per sum
}

// Doubles (a batch's BatchNorm statistics and loss terms) through the host reducer, and through a
// staged one, whose buffer grows from the floats' bytes to the doubles' once.
TEST(Reducer, SumsDoublesOnTheHostAndFromStagedMemory) {
  const std::int64_t count = 129;  // a BatchNorm layer of 64 channels: sums, squares, rows
  const auto host = make_host_reducer(MPI_COMM_WORLD);
  EXPECT_EQ(host->name(), "mpi");
  std::vector<double> v = share<double>(count);
  host->sum(v.data(), count);
  expect_summed(v);

  SeparateMemory staged;
  const auto reducer = make_mpi_reducer(MPI_COMM_WORLD, staged);
  std::vector<float> f = share<float>(count);
  reducer->sum(f.data(), count);
  expect_summed(f);
  std::vector<double> d = share<double>(count);
  reducer->sum(d.data(), count);
  expect_summed(d);
  EXPECT_EQ(staged.host_buffers, mpi_cuda_aware() ? 0 : 2);
}

// The gradient is reduced as one flat buffer: every rank lays the parameters out alike.
TEST(Reducer, EveryRankHasTheSameFlatGradientLayout) {
  ModelConfig c;
  c.dim = 8;
  c.heads = {4, 2, 1};
  const SymGNN<float> model(c);
  const ParameterStore<float>& p = model.params();
  std::vector<std::int64_t> layout = {p.total(), p.count()};
  for (int i = 0; i < p.count(); ++i) {
    layout.push_back(p.info(i).offset);
    layout.push_back(p.info(i).size());
    layout.push_back(static_cast<std::int64_t>(std::hash<std::string>{}(p.info(i).name)));
  }
  std::vector<std::int64_t> first(layout);
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_INT64_T, 0, MPI_COMM_WORLD);
  EXPECT_EQ(first, layout);
  EXPECT_GT(p.count(), 40);
}

}  // namespace
}  // namespace symgnn
