#include "util.hpp"

#include <unistd.h>

#include <atomic>
#include <random>

#include "core/error.hpp"
#include "graph/neighbor.hpp"

namespace symgnn::test {

namespace {
std::atomic<int> counter{0};
}

TempDir::TempDir() {
  path_ = std::filesystem::temp_directory_path() /
          ("symgnn-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string p = file(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a symgnn::Error, but nothing was thrown";
  return "";
}

std::string data_path(const std::string& relative) {
  return std::string(SYMGNN_TEST_DATA_DIR) + "/" + relative;
}

std::string shared_dataset(const std::string& name) {
  std::string p = std::string(SYMGNN_SHARED_DIR) + "/datasets/cuzr-symgnn/" + name;
  return std::filesystem::exists(p) ? p : "";
}

Fixture small_structure(int atoms, double box, double cutoff, std::uint64_t seed) {
  Fixture f;
  f.s.source = "small";
  f.s.cell = Cell::orthogonal(box, box, box * 1.1);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < atoms; ++i) {
    for (int c = 0; c < 3; ++c) f.s.positions.push_back(u(rng) * f.s.cell.h[4 * c]);
    f.s.species.push_back(i % 3 == 0 ? 1 : 0);
    f.s.ids.push_back(i + 1);
  }
  f.s.species_names = {"Cu", "Zr"};
  AtomProperty eb{"energy_barrier", 1, false, {}, {}};
  for (int i = 0; i < atoms; ++i) eb.values.push_back(1.2 + 0.8 * u(rng));
  f.s.properties.push_back(eb);
  NeighborOptions opt;
  opt.cutoff = cutoff;
  f.graph = build_graph(f.s.cell, f.s.pbc, f.s.positions, opt);
  f.batch = make_batch({&f.s}, {&f.graph}, {"Cu", "Zr"}, "energy_barrier");
  return f;
}

}  // namespace symgnn::test
