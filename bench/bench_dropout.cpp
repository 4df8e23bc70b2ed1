// Dropout masks for the edges of the six training glasses (1.6 M rows of 32 features, one thread):
// the whole-block path that training takes (lane offset a multiple of 4) against the general
// lane-by-lane one. Run: build/symgnn_bench --benchmark_filter=Dropout
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/kernels/philox.hpp"

namespace symgnn {
namespace {

void BM_DropoutMask(benchmark::State& state) {
  const std::int64_t rows = 1602158, d = 32;
  const auto lane0 = static_cast<std::uint32_t>(state.range(0));
  std::vector<std::uint64_t> ids(rows);
  std::vector<std::uint16_t> images(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    ids[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i);
    images[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(i % 27);
  }
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * d));
  const kernels::PhiloxKey key = kernels::philox_key(1, rng_stream::kDropout, 1);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  for (auto _ : state) {
    cpu_dropout_mask(rows, d, ids.data(), images.data(), lane0, key, 0.1f, mask.data());
    benchmark::DoNotOptimize(mask.data());
  }
  omp_set_num_threads(threads);
  state.SetItemsProcessed(state.iterations() * rows * d);
  state.SetLabel(lane0 % 4 == 0 ? "whole blocks" : "lane by lane");
}
BENCHMARK(BM_DropoutMask)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace symgnn
