#include "core/cell.hpp"

#include <cmath>

namespace symgnn {

namespace {
std::array<double, 3> cross(const double* a, const double* b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double norm(const std::array<double, 3>& v) {
  return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}
}  // namespace

Cell Cell::orthogonal(double lx, double ly, double lz) {
  Cell c;
  c.h = {lx, 0, 0, 0, ly, 0, 0, 0, lz};
  return c;
}

double Cell::determinant() const {
  const auto& m = h;
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

std::array<double, 9> Cell::inverse() const {
  const auto& m = h;
  double d = determinant();
  return {(m[4] * m[8] - m[5] * m[7]) / d, (m[2] * m[7] - m[1] * m[8]) / d,
          (m[1] * m[5] - m[2] * m[4]) / d, (m[5] * m[6] - m[3] * m[8]) / d,
          (m[0] * m[8] - m[2] * m[6]) / d, (m[2] * m[3] - m[0] * m[5]) / d,
          (m[3] * m[7] - m[4] * m[6]) / d, (m[1] * m[6] - m[0] * m[7]) / d,
          (m[0] * m[4] - m[1] * m[3]) / d};
}

std::array<double, 3> Cell::perpendicular_widths() const {
  double v = std::abs(determinant());
  const double* a = &h[0];
  const double* b = &h[3];
  const double* c = &h[6];
  return {v / norm(cross(b, c)), v / norm(cross(c, a)), v / norm(cross(a, b))};
}

double Cell::length(int k) const {
  return norm({h[3 * k], h[3 * k + 1], h[3 * k + 2]});
}

bool Cell::is_orthogonal(double tol) const {
  return std::abs(h[1]) <= tol && std::abs(h[2]) <= tol && std::abs(h[3]) <= tol &&
         std::abs(h[5]) <= tol && std::abs(h[6]) <= tol && std::abs(h[7]) <= tol;
}

bool Cell::is_degenerate() const {
  double scale = length(0) * length(1) * length(2);
  return !(scale > 0) || !(std::abs(determinant()) >= 1e-9 * scale);
}

}  // namespace symgnn
