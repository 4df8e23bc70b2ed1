// symgnn_backend_bench: the model on one backend at the sizes of the targets, needing
// only symgnn_core (so it builds on GPU machines without this project's other packages):
//   - a full-batch training step (forward, loss, backward) over `copies` copies of the bundled
//     8,000-atom glass (6 copies: 48,000 atoms and 1.6 M edges, the size of train0-5);
//   - a 3,000-atom prediction, graph included (a cube cut from the glass, periodic);
//   - a prediction for the glass replicated 5 x 5 x 5 (1,000,000 atoms), graph included.
// Prints one line per measurement (median of the repeats) and the device.
//   symgnn_backend_bench [--device cpu|cuda|cuda:N] [--copies 6] [--steps 5] [--million 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/blas.hpp"
#include "core/error.hpp"
#include "graph/neighbor.hpp"
#include "io/extxyz.hpp"
#include "model/symgnn.hpp"

namespace symgnn {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The atoms of `s` inside the corner cube holding about `atoms` of them, as a periodic cube.
Structure corner_cube(const Structure& s, std::int64_t atoms) {
  const double box = s.cell.h[0];  // the glasses are orthogonal boxes
  const double side = box * std::cbrt(double(atoms) / double(s.size()));
  Structure c;
  c.source = s.source + " (corner cube)";
  c.cell = Cell::orthogonal(side, side, side);
  c.species_names = s.species_names;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double* r = &s.positions[3 * i];
    if (r[0] < side && r[1] < side && r[2] < side && r[0] >= 0 && r[1] >= 0 && r[2] >= 0) {
      c.positions.insert(c.positions.end(), r, r + 3);
      c.species.push_back(s.species[i]);
      c.ids.push_back(static_cast<std::int64_t>(c.ids.size()) + 1);
    }
  }
  return c;
}

Graph graph_of(const Structure& s) {
  return build_graph(s.cell, s.pbc, s.positions, NeighborOptions{});
}

const std::vector<std::array<double, 9>> kTransforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                        {0, 1, 0, -1, 0, 0, 0, 0, -1}};

// Graph and evaluation-mode prediction of one structure, seconds.
double predict_seconds(SymGNN<float>& model, const Structure& s) {
  const auto t0 = std::chrono::steady_clock::now();
  const Graph g = graph_of(s);
  const GraphBatch b = make_batch({&s}, {&g}, model.config().species, "");
  Tensor<float> p;
  model.forward(b, kTransforms, Phase::kEval, {}, p);
  return seconds_since(t0);
}

int run(int argc, char** argv) {
  std::string device = "cpu";
  int copies = 6, steps = 5, million = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--device")
      device = argv[i + 1];
    else if (key == "--copies")
      copies = std::atoi(argv[i + 1]);
    else if (key == "--steps")
      steps = std::atoi(argv[i + 1]);
    else if (key == "--million")
      million = std::atoi(argv[i + 1]);
    else
      throw UsageError("unknown option " + key);
  }
  if (copies < 1 || steps < 1) throw UsageError("--copies and --steps must be positive");
  const std::vector<Structure> read = read_extxyz(SYMGNN_REPO_DIR "/data/cuzr/train0.extxyz");
  const Structure& glass = read.front();
  ModelConfig cfg;
  cfg.symmetrization = Symmetrization::kFixed;
  SymGNN<float> model(cfg, make_backend<float>(device));
  std::printf("device      %s\n", model.backend().name().c_str());
  std::printf("blas        %s\n", blas_description().c_str());

  // Training step over `copies` copies joined into one batch.
  const Graph g = graph_of(glass);
  std::vector<const Structure*> ss(static_cast<std::size_t>(copies), &glass);
  std::vector<const Graph*> gs(static_cast<std::size_t>(copies), &g);
  const GraphBatch batch = make_batch(ss, gs, cfg.species, "energy_barrier");
  std::vector<double> step_s;
  for (int s = 0; s <= steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    Tensor<float> pred;
    model.params().zero_grad();
    model.forward(batch, kTransforms, Phase::kTrain, {1, std::uint64_t(s)}, pred);
    model.loss(batch);
    model.backward(batch);
    if (s > 0) step_s.push_back(seconds_since(t0));  // the first warms up
  }
  std::printf(
      "train step  %lld atoms, %lld edges: %.4f s (median of %d; forward, loss, "
      "backward)\n",
      static_cast<long long>(batch.num_nodes), static_cast<long long>(batch.num_edges),
      median(step_s), steps);

  const Structure cube = corner_cube(glass, 3000);
  std::vector<double> cube_s;
  for (int r = 0; r <= 10; ++r) {
    const double t = predict_seconds(model, cube);
    if (r > 0) cube_s.push_back(t);
  }
  std::printf("predict     %zu atoms, graph included: %.4f s (median of 10)\n", cube.size(),
              median(cube_s));
  if (million) {
    const Structure big = replicate(glass, {5, 5, 5});
    std::printf("predict     %zu atoms, graph included: %.3f s\n", big.size(),
                predict_seconds(model, big));
  }
  return 0;
}

}  // namespace
}  // namespace symgnn

int main(int argc, char** argv) {
  symgnn::restart_with_wider_blas_kernels(argv);
  try {
    return symgnn::run(argc, argv);
  } catch (const symgnn::UsageError& e) {
    std::fprintf(stderr, "symgnn_backend_bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "symgnn_backend_bench: error: %s\n", e.what());
    return 1;
  }
}
