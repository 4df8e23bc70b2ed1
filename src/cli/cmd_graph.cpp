// `symgnn-dist graph`: read structures, build their neighbour graphs, print what was built.
#include <omp.h>

#include <chrono>
#include <cstdio>

#include "cli/commands.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "graph/neighbor.hpp"

namespace symgnn::cli {

namespace {

void print_summary(const Structure& s, const Graph& g, const NeighborOptions& opt, double t_read,
                   double t_build) {
  std::vector<std::size_t> count(s.species_names.size(), 0);
  for (auto c : s.species) ++count[static_cast<std::size_t>(c)];
  std::string composition;
  for (std::size_t k = 0; k < count.size(); ++k)
    composition +=
        (k ? ", " : "") + s.species_names[k] + " " + group_digits(static_cast<long long>(count[k]));
  const DegreeStats d = degree_stats(g);
  const auto w = s.cell.perpendicular_widths();
  char line[256];
  std::printf("structure   %s\n", s.source.c_str());
  std::printf("atoms       %s (%s)\n", group_digits(static_cast<long long>(s.size())).c_str(),
              composition.c_str());
  if (!s.cell.is_degenerate()) {
    std::snprintf(line, sizeof line, "%.4f x %.4f x %.4f A (%s), pbc %c %c %c", s.cell.length(0),
                  s.cell.length(1), s.cell.length(2),
                  s.cell.is_orthogonal() ? "orthogonal" : "triclinic", s.pbc[0] ? 'T' : 'F',
                  s.pbc[1] ? 'T' : 'F', s.pbc[2] ? 'T' : 'F');
    std::printf("cell        %s\n", line);
    std::printf("widths      %.4f %.4f %.4f A (perpendicular)\n", w[0], w[1], w[2]);
  } else {
    std::printf("cell        none (not periodic)\n");
  }
  std::printf("cutoff      %g A, self edges %s\n", opt.cutoff,
              opt.self_edges ? "included" : "excluded");
  std::printf("edges       %s (self %s)\n", group_digits(g.num_edges()).c_str(),
              group_digits(d.self_edges).c_str());
  std::printf("in-degree   min %lld  mean %.3f  max %lld  std %.3f\n",
              static_cast<long long>(d.min), d.mean, static_cast<long long>(d.max), d.stddev);
  std::printf("time        read %.3f s, graph %.3f s (%d threads, %.1f M edges/s)\n\n", t_read,
              t_build, omp_get_max_threads(),
              t_build > 0 ? static_cast<double>(g.num_edges()) / t_build / 1e6 : 0.0);
}

int run(const po::variables_map& vm) {
  NeighborOptions opt;
  opt.cutoff = vm["cutoff"].as<double>();
  opt.self_edges = !vm.count("no-self-edges");
  opt.threads = vm["threads"].as<int>();
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  const ReadOptions ropt = read_options(vm);
  const int frame = vm["frame"].as<int>();
  if (!vm.count("structure"))
    throw UsageError("no structure given (usage: symgnn-dist graph FILE...)");
  for (const auto& path : vm["structure"].as<std::vector<std::string>>()) {
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<Structure> frames = select_frame(read_structures(path, ropt), frame, path);
    const double t_read = seconds_since(t0);
    for (const Structure& s : frames) {
      t0 = std::chrono::steady_clock::now();
      Graph g = build_graph(s.cell, s.pbc, s.positions, opt);
      print_summary(s, g, opt, t_read, seconds_since(t0));
    }
  }
  return 0;
}

}  // namespace

Command graph_command() {
  return {"graph", "build the periodic neighbour graph of structures and print its statistics",
          "graph [options] STRUCTURE...",
          [](po::options_description& d, po::positional_options_description& p) {
            d.add_options()("structure", po::value<std::vector<std::string>>()->multitoken(),
                            "structure files (any supported format; also positional)")(
                "cutoff", po::value<double>()->default_value(5.0), "neighbour cutoff (A)")(
                "no-self-edges", "leave out the self edge i -> i (the published model keeps it)")(
                "frame", po::value<int>()->default_value(-1), "only this frame (0-based; -1: all)")(
                "threads", po::value<int>()->default_value(0),
                "OpenMP threads (0: OMP_NUM_THREADS or all cores)");
            add_read_options(d);
            p.add("structure", -1);
          },
          run};
}

}  // namespace symgnn::cli
