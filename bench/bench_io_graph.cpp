// Reading and graph-building benchmarks at 8,000, 64,000 and 1,000,000 atoms (train0 replicated
// 1x1x1, 2x2x2, 5x5x5). Run: build/symgnn_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <filesystem>
#include <map>

#include "graph/neighbor.hpp"
#include "io/formats.hpp"

namespace symgnn {
namespace {

const Structure& sample(int copies) {
  static std::map<int, Structure> cache;
  auto it = cache.find(copies);
  if (it == cache.end()) {
    static const Structure base =
        read_structures(std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz").at(0);
    it = cache.emplace(copies, replicate(base, {copies, copies, copies})).first;
  }
  return it->second;
}

// The sample written once per format into the temp dir, for the reading benchmarks.
std::string sample_file(int copies, const std::string& ext) {
  auto dir = std::filesystem::temp_directory_path() / "symgnn-bench";
  std::filesystem::create_directories(dir);
  std::string path = (dir / ("train0_" + std::to_string(copies) + ext)).string();
  if (!std::filesystem::exists(path)) write_structures(path, {sample(copies)});
  return path;
}

void read_bench(benchmark::State& state, const std::string& ext) {
  const int copies = static_cast<int>(state.range(0));
  const std::string path = sample_file(copies, ext);
  std::size_t atoms = 0;
  for (auto _ : state) {
    auto frames = read_structures(path);
    atoms = frames[0].size();
    benchmark::DoNotOptimize(frames);
  }
  state.counters["atoms"] = static_cast<double>(atoms);
  state.counters["atoms/s"] = benchmark::Counter(static_cast<double>(atoms) * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void BM_ReadExtxyz(benchmark::State& state) {
  read_bench(state, ".extxyz");
}
void BM_ReadLammpsDump(benchmark::State& state) {
  read_bench(state, ".dump");
}
void BM_ReadHdf5(benchmark::State& state) {
  read_bench(state, ".h5");
}

void BM_BuildGraph(benchmark::State& state) {
  const Structure& s = sample(static_cast<int>(state.range(0)));
  NeighborOptions opt;
  opt.threads = static_cast<int>(state.range(1));
  std::int64_t edges = 0;
  // One untimed build first: on a VM the first touch of fresh memory costs more than the build
  // itself (the hypervisor backs pages lazily); this measures the steady state.
  benchmark::DoNotOptimize(build_graph(s.cell, s.pbc, s.positions, opt));
  for (auto _ : state) {
    Graph g = build_graph(s.cell, s.pbc, s.positions, opt);
    edges = g.num_edges();
    benchmark::DoNotOptimize(g);
  }
  state.counters["atoms"] = static_cast<double>(s.size());
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["edges/s"] = benchmark::Counter(static_cast<double>(edges) * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void BM_ReverseEdges(benchmark::State& state) {
  const Structure& s = sample(static_cast<int>(state.range(0)));
  Graph g = build_graph(s.cell, s.pbc, s.positions, {});
  omp_set_num_threads(static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(reverse_edges(g));
  state.counters["edges"] = static_cast<double>(g.num_edges());
}

// Arguments: copies per direction (1, 2, 5 -> 8k, 64k, 1M atoms) [, threads].
BENCHMARK(BM_ReadExtxyz)->Arg(1)->Arg(2)->Arg(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadLammpsDump)->Arg(1)->Arg(2)->Arg(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadHdf5)->Arg(1)->Arg(2)->Arg(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BuildGraph)
    ->ArgsProduct({{1, 2, 5}, {1, 2}})
    ->ArgNames({"copies", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReverseEdges)
    ->ArgsProduct({{1, 5}, {1, 2}})
    ->ArgNames({"copies", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace symgnn

BENCHMARK_MAIN();
