// Domain: the periodic box split into a grid of subdomains, one per rank of a group, in
// fractional coordinates (so triclinic boxes split along their lattice vectors, as in LAMMPS).
#pragma once

#include <array>
#include <string>

#include "core/cell.hpp"

namespace symgnn {

struct ProcGrid {
  std::array<int, 3> n{1, 1, 1};
  int count() const { return n[0] * n[1] * n[2]; }
  std::string str() const;
};

// "2x2x1" -> {2, 2, 1}; UsageError on anything else.
ProcGrid parse_grid(const std::string& text);

// The grid of `ranks` subdomains with the least total subdomain surface for this box (LAMMPS's
// choice: the least ghost volume for a given number of ranks).
ProcGrid choose_grid(int ranks, const Cell& cell);

class Domain {
 public:
  // Throws UsageError unless the box is periodic in all three directions (a split needs it).
  Domain(const Cell& cell, const std::array<bool, 3>& pbc, const ProcGrid& grid);

  const ProcGrid& grid() const { return grid_; }
  // The subdomain (index within the grid) holding a wrapped fractional position.
  int owner(const double* frac) const;
  // Fractional bounds [lo, hi) of subdomain `index` along lattice direction k.
  double lo(int index, int k) const;
  double hi(int index, int k) const;
  // The cutoff as a fractional distance along direction k (through the perpendicular width).
  double reach(double cutoff, int k) const;

 private:
  std::array<int, 3> coords(int index) const;
  ProcGrid grid_;
  std::array<double, 3> widths_;
};

}  // namespace symgnn
