#include "parallel/domain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.hpp"

namespace symgnn {

std::string ProcGrid::str() const {
  return std::to_string(n[0]) + "x" + std::to_string(n[1]) + "x" + std::to_string(n[2]);
}

ProcGrid parse_grid(const std::string& text) {
  ProcGrid g;
  char x1 = 0, x2 = 0;
  std::istringstream in(text);
  std::string rest;
  if (!(in >> g.n[0] >> x1 >> g.n[1] >> x2 >> g.n[2]) || x1 != 'x' || x2 != 'x' || (in >> rest) ||
      g.n[0] < 1 || g.n[1] < 1 || g.n[2] < 1)
    throw UsageError("--grid '" + text + "': expected three positive counts like 2x2x1");
  return g;
}

ProcGrid choose_grid(int ranks, const Cell& cell) {
  const auto w = cell.perpendicular_widths();
  ProcGrid best;
  double best_area = std::numeric_limits<double>::infinity();
  for (int a = 1; a <= ranks; ++a) {
    if (ranks % a) continue;
    for (int b = 1; b <= ranks / a; ++b) {
      if ((ranks / a) % b) continue;
      const int c = ranks / a / b;
      const double x = w[0] / a, y = w[1] / b, z = w[2] / c;
      const double area = x * y + y * z + z * x;
      if (area < best_area - 1e-12) {
        best_area = area;
        best.n = {a, b, c};
      }
    }
  }
  return best;
}

Domain::Domain(const Cell& cell, const std::array<bool, 3>& pbc, const ProcGrid& grid)
    : grid_(grid), widths_(cell.perpendicular_widths()) {
  if (!pbc[0] || !pbc[1] || !pbc[2] || cell.is_degenerate())
    throw UsageError(
        "a structure split over ranks needs a box periodic in all three directions "
        "(run it on one rank per structure, --grid 1x1x1)");
}

std::array<int, 3> Domain::coords(int index) const {
  return {index % grid_.n[0], (index / grid_.n[0]) % grid_.n[1], index / (grid_.n[0] * grid_.n[1])};
}

int Domain::owner(const double* frac) const {
  int c[3];
  for (int k = 0; k < 3; ++k)
    c[k] = std::clamp(static_cast<int>(std::floor(frac[k] * grid_.n[k])), 0, grid_.n[k] - 1);
  return c[0] + grid_.n[0] * (c[1] + grid_.n[1] * c[2]);
}

double Domain::lo(int index, int k) const {
  return static_cast<double>(coords(index)[static_cast<std::size_t>(k)]) / grid_.n[k];
}

double Domain::hi(int index, int k) const {
  return static_cast<double>(coords(index)[static_cast<std::size_t>(k)] + 1) / grid_.n[k];
}

double Domain::reach(double cutoff, int k) const {
  return cutoff / widths_[static_cast<std::size_t>(k)];
}

}  // namespace symgnn
