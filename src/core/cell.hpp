// A periodic simulation cell: three lattice vectors (the rows of h, in Å, ASE's convention) and an
// origin (LAMMPS boxes need not start at zero). r = origin + f · h for fractional coordinates f.
#pragma once

#include <array>

namespace symgnn {

struct Cell {
  std::array<double, 9> h{};  // row-major: h[3*k + c] is component c of lattice vector k
  std::array<double, 3> origin{};

  static Cell orthogonal(double lx, double ly, double lz);

  double determinant() const;
  // Row-major inverse of h, so that f = (r - origin) · inverse().
  std::array<double, 9> inverse() const;
  // Distance between the two faces of the cell spanned by the other two lattice vectors.
  std::array<double, 3> perpendicular_widths() const;
  double length(int k) const;
  bool is_orthogonal(double tol = 1e-12) const;
  // True when the lattice vectors span (almost) no volume: |det| < 1e-9 |a| |b| |c|.
  bool is_degenerate() const;
};

}  // namespace symgnn
