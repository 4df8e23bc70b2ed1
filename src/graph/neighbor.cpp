#include "graph/neighbor.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>

#include "core/error.hpp"
#include "core/memory.hpp"
#include "core/text.hpp"

namespace symgnn {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Smallest |s · G|^2 over the box lo <= s <= hi (G row-major 3x3): an exact convex QP in three
// variables, solved by trying every active set (each variable free, at lo, or at hi).
double min_norm2_over_box(const double* G, const double* lo, const double* hi) {
  double Q[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      Q[a][b] = G[3 * a] * G[3 * b] + G[3 * a + 1] * G[3 * b + 1] + G[3 * a + 2] * G[3 * b + 2];
  double best = std::numeric_limits<double>::infinity();
  for (int code = 0; code < 27; ++code) {
    int state[3] = {code % 3, (code / 3) % 3, code / 9};  // 0 free, 1 at lo, 2 at hi
    double s[3] = {0, 0, 0};
    int free_idx[3], nfree = 0;
    for (int k = 0; k < 3; ++k) {
      if (state[k] == 0)
        free_idx[nfree++] = k;
      else
        s[k] = state[k] == 1 ? lo[k] : hi[k];
    }
    if (nfree > 0) {
      // Solve Q_ff s_f = -Q_fx s_x by Gaussian elimination with partial pivoting.
      double A[3][4];
      for (int r = 0; r < nfree; ++r) {
        double rhs = 0;
        for (int k = 0; k < 3; ++k)
          if (state[k] != 0) rhs -= Q[free_idx[r]][k] * s[k];
        for (int c = 0; c < nfree; ++c) A[r][c] = Q[free_idx[r]][free_idx[c]];
        A[r][nfree] = rhs;
      }
      bool singular = false;
      for (int c = 0; c < nfree && !singular; ++c) {
        int p = c;
        for (int r = c + 1; r < nfree; ++r)
          if (std::abs(A[r][c]) > std::abs(A[p][c])) p = r;
        if (std::abs(A[p][c]) < 1e-300) {
          singular = true;
          break;
        }
        for (int k = 0; k <= nfree; ++k) std::swap(A[c][k], A[p][k]);
        for (int r = 0; r < nfree; ++r) {
          if (r == c) continue;
          double f = A[r][c] / A[c][c];
          for (int k = c; k <= nfree; ++k) A[r][k] -= f * A[c][k];
        }
      }
      if (singular) continue;
      bool feasible = true;
      for (int r = 0; r < nfree; ++r) {
        double v = A[r][nfree] / A[r][r];
        int k = free_idx[r];
        if (v < lo[k] || v > hi[k]) feasible = false;
        s[k] = v;
      }
      if (!feasible) continue;
    }
    double v = 0;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) v += s[a] * Q[a][b] * s[b];
    best = std::min(best, v);
  }
  return best;
}

// Bytes of one edge in a Graph (src, dst: int32; image: 3 x int8; vec: 3 x float) and of one
// gathered candidate source (x, y, z, d2: double; atom: int32; image: 3 x int8).
constexpr double kEdgeBytes = 23, kCandidateBytes = 39;

struct Stencil {
  std::int32_t d[3];
};

// Per-thread candidate sources gathered from a bin's stencil, as structure of arrays.
struct Candidates {
  std::vector<double> x, y, z, d2;
  std::vector<std::int32_t> atom;
  std::vector<Image> image;
  void clear() { resize(0); }
  void resize(std::size_t n) {
    x.resize(n);
    y.resize(n);
    z.resize(n);
    d2.resize(n);
    atom.resize(n);
    image.resize(n);
  }
};

// Runs body(bin, candidates) for every bin over OpenMP threads, each with its own candidates. An
// exception (std::bad_alloc among them) cannot leave a parallel region: the first is kept, the
// remaining bins are skipped, and it is thrown after the region.
template <typename Body>
void for_each_bin(std::int64_t nbins, Body body) {
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
#pragma omp parallel
  {
    Candidates cand;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t b = 0; b < nbins; ++b) {
      if (failed.load(std::memory_order_relaxed)) continue;
      try {
        body(b, cand);
      } catch (...) {
#pragma omp critical(symgnn_neighbor_failure)
        if (!failure) failure = std::current_exception();
        failed = true;
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

std::vector<double> wrapped_fractional(const Cell& cell, const std::array<bool, 3>& pbc,
                                       const std::vector<double>& positions) {
  const auto inv = cell.inverse();
  const std::size_t n = positions.size() / 3;
  std::vector<double> frac(3 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const double d[3] = {positions[3 * i] - cell.origin[0], positions[3 * i + 1] - cell.origin[1],
                         positions[3 * i + 2] - cell.origin[2]};
    for (int k = 0; k < 3; ++k) {
      double f = d[0] * inv[k] + d[1] * inv[3 + k] + d[2] * inv[6 + k];
      if (pbc[k]) {
        f -= std::floor(f);
        if (f >= 1.0) f = 0.0;  // -1e-17 wraps to 1.0 in floating point
      }
      frac[3 * i + k] = f;
    }
  }
  return frac;
}

void to_cartesian(const Cell& cell, const double* f, double* r) {
  const auto& h = cell.h;
  for (int c = 0; c < 3; ++c)
    r[c] = cell.origin[c] + f[0] * h[c] + f[1] * h[3 + c] + f[2] * h[6 + c];
}

void image_shift(const Cell& cell, const Image& n, double* shift) {
  const auto& h = cell.h;
  for (int x = 0; x < 3; ++x)
    shift[x] = static_cast<double>(n.a) * h[x] + static_cast<double>(n.b) * h[3 + x] +
               static_cast<double>(n.c) * h[6 + x];
}

Graph build_graph(const Cell& cell_in, const std::array<bool, 3>& pbc,
                  const std::vector<double>& positions, const NeighborOptions& options) {
  const double rc = options.cutoff;
  if (!(rc > 0) || !std::isfinite(rc))
    throw Error("neighbour graph: the cutoff must be a positive number, got " + std::to_string(rc));
  if (positions.size() % 3 != 0) throw Error("neighbour graph: positions must hold 3 per atom");
  const std::size_t n = positions.size() / 3;
  if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw Error("neighbour graph: more than 2^31 atoms in one graph; split the system over ranks");
  if (options.threads > 0) omp_set_num_threads(options.threads);

  // Non-periodic structures without a cell get their bounding box as the cell.
  Cell cell = cell_in;
  const bool any_pbc = pbc[0] || pbc[1] || pbc[2];
  if (cell.is_degenerate()) {
    if (any_pbc)
      throw Error("neighbour graph: the cell is degenerate but the structure is periodic");
    double lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1};
    for (int c = 0; c < 3 && n > 0; ++c) {
      lo[c] = hi[c] = positions[static_cast<std::size_t>(c)];
      for (std::size_t i = 0; i < n; ++i) {
        lo[c] = std::min(lo[c], positions[3 * i + c]);
        hi[c] = std::max(hi[c], positions[3 * i + c]);
      }
    }
    cell = Cell::orthogonal(hi[0] - lo[0] + 1.0, hi[1] - lo[1] + 1.0, hi[2] - lo[2] + 1.0);
    cell.origin = {lo[0], lo[1], lo[2]};
  }
  const auto& h = cell.h;
  const auto widths = cell.perpendicular_widths();
  for (int k = 0; k < 3; ++k)  // lengths near 1e308 overflow in the volume (Structure refuses them)
    if (!std::isfinite(widths[k]) || !(widths[k] > 0))
      throw Error("neighbour graph: the cell (or the bounding box of a non-periodic structure) " +
                  std::string("is too large to bin: its width along lattice vector ") +
                  std::to_string(k + 1) + " is not a finite positive length");

  const std::vector<double> frac = wrapped_fractional(cell, pbc, positions);

  // Keep the grid no larger than a few bins per atom (sparse or huge boxes).
  const std::int64_t max_bins = std::max<std::int64_t>(64, 4 * static_cast<std::int64_t>(n));
  // Bins along each lattice direction, at least one cutoff wide (perpendicular) where possible.
  double lo[3], binw[3];
  std::int64_t nb[3], m[3];
  for (int k = 0; k < 3; ++k) {
    lo[k] = 0;
    double ext = 1;
    if (!pbc[k] && n > 0) {
      double mn = frac[static_cast<std::size_t>(k)], mx = mn;
      for (std::size_t i = 0; i < n; ++i) {
        mn = std::min(mn, frac[3 * i + k]);
        mx = std::max(mx, frac[3 * i + k]);
      }
      lo[k] = mn;
      ext = std::max(mx - mn, 1e-9);
    }
    // In double first: a huge box (1e34 Å, fuzzed) has more bins than an integer holds.
    nb[k] = static_cast<std::int64_t>(
        std::clamp(widths[k] * ext / rc, 1.0, static_cast<double>(max_bins)));
  }
  while (nb[0] * nb[1] * nb[2] > max_bins) {
    int k = static_cast<int>(std::max_element(nb, nb + 3) - nb);
    nb[k] = std::max<std::int64_t>(1, nb[k] / 2);
  }
  for (int k = 0; k < 3; ++k) {
    double ext = 1;
    if (!pbc[k] && n > 0) {
      double mx = lo[k];
      for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, frac[3 * i + k]);
      ext = std::max(mx - lo[k], 1e-9);
    }
    binw[k] = ext / static_cast<double>(nb[k]) * (1 + 1e-12);  // keeps the largest f inside
    const double perp = widths[k] * binw[k];
    const double reach = std::ceil(rc / perp);  // bins; in double, as above
    // An edge's identity (dropout masks, explanations) holds its image in [-15, 15] (image_code).
    if (pbc[k] && std::floor(reach / static_cast<double>(nb[k])) + 1 > kMaxImage) {
      std::string msg = "neighbour graph: a cutoff of ";
      append_double(msg, rc);
      msg += " Å reaches more than " + std::to_string(kMaxImage) +
             " periodic images along lattice vector " + std::to_string(k + 1) +
             ", where the cell is ";
      char width[32];
      std::snprintf(width, sizeof width, "%.4g", widths[k]);
      throw Error(msg + width +
                  " Å wide (a glass needs a cutoff of a few Å and a cell wider than that)");
    }
    m[k] = pbc[k] ? static_cast<std::int64_t>(reach)
                  : static_cast<std::int64_t>(std::min(reach, static_cast<double>(nb[k] - 1)));
  }

  // The stencil: bin offsets whose bins can hold a pair closer than the cutoff.
  double G[9];
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 3; ++c) G[3 * k + c] = binw[k] * h[3 * k + c];
  std::vector<Stencil> stencil;
  for (std::int64_t a = -m[0]; a <= m[0]; ++a)
    for (std::int64_t b = -m[1]; b <= m[1]; ++b)
      for (std::int64_t c = -m[2]; c <= m[2]; ++c) {
        const double d[3] = {static_cast<double>(a), static_cast<double>(b),
                             static_cast<double>(c)};
        const double slo[3] = {d[0] - 1, d[1] - 1, d[2] - 1};
        const double shi[3] = {d[0] + 1, d[1] + 1, d[2] + 1};
        if (min_norm2_over_box(G, slo, shi) < rc * rc * (1 + 1e-9))
          stencil.push_back({{static_cast<std::int32_t>(a), static_cast<std::int32_t>(b),
                              static_cast<std::int32_t>(c)}});
      }

  // Counting sort of atoms by bin; positions copied in bin order for locality.
  const std::int64_t nbins = nb[0] * nb[1] * nb[2];
  std::vector<std::int64_t> atom_bin(n);
  std::vector<std::int64_t> bin_start(static_cast<std::size_t>(nbins) + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t b[3];
    for (int k = 0; k < 3; ++k) {
      b[k] = static_cast<std::int64_t>((frac[3 * i + k] - lo[k]) / binw[k]);
      b[k] = std::clamp<std::int64_t>(b[k], 0, nb[k] - 1);
    }
    atom_bin[i] = (b[2] * nb[1] + b[1]) * nb[0] + b[0];
    ++bin_start[static_cast<std::size_t>(atom_bin[i]) + 1];
  }
  for (std::int64_t b = 0; b < nbins; ++b) bin_start[b + 1] += bin_start[b];
  std::vector<std::int32_t> bin_atoms(n);
  std::vector<double> wrapped(3 * n);  // Cartesian, in bin order
  {
    std::vector<std::int64_t> fill(bin_start.begin(), bin_start.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const auto slot = static_cast<std::size_t>(fill[static_cast<std::size_t>(atom_bin[i])]++);
      bin_atoms[slot] = static_cast<std::int32_t>(i);
      to_cartesian(cell, &frac[3 * i], &wrapped[3 * slot]);
    }
  }

  const double rc2 = rc * rc;
  const bool self = options.self_edges;
  Graph g;
  g.num_atoms = static_cast<std::int64_t>(n);
  g.offsets.assign(n + 1, 0);

  // Gathers the candidate sources of bin b (with their image shifts) into `cand`.
  auto gather = [&](std::int64_t b, Candidates& cand) {
    const std::int64_t bx = b % nb[0], by = (b / nb[0]) % nb[1], bz = b / (nb[0] * nb[1]);
    cand.clear();
    std::size_t c = 0;
    for (const Stencil& s : stencil) {
      std::int64_t t[3] = {bx + s.d[0], by + s.d[1], bz + s.d[2]};
      std::int64_t img[3] = {0, 0, 0};
      bool inside = true;
      for (int k = 0; k < 3; ++k) {
        if (pbc[k]) {
          img[k] = floor_div(t[k], nb[k]);
          t[k] -= img[k] * nb[k];
        } else if (t[k] < 0 || t[k] >= nb[k]) {
          inside = false;
        }
      }
      if (!inside) continue;
      const std::int64_t tb = (t[2] * nb[1] + t[1]) * nb[0] + t[0];
      const auto first = static_cast<std::size_t>(bin_start[tb]);
      const auto count = static_cast<std::size_t>(bin_start[tb + 1]) - first;
      if (count == 0) continue;
      const Image image{static_cast<std::int8_t>(img[0]), static_cast<std::int8_t>(img[1]),
                        static_cast<std::int8_t>(img[2])};
      double shift[3];
      image_shift(cell, image, shift);
      cand.resize(c + count);
      for (std::size_t k = 0; k < count; ++k, ++c) {
        const std::size_t slot = first + k;
        cand.x[c] = wrapped[3 * slot] + shift[0];
        cand.y[c] = wrapped[3 * slot + 1] + shift[1];
        cand.z[c] = wrapped[3 * slot + 2] + shift[2];
        cand.atom[c] = bin_atoms[slot];
        cand.image[c] = image;
      }
    }
  };
  auto distances = [](Candidates& cand, const double* r) {
    const std::size_t nc = cand.x.size();
    const double* x = cand.x.data();
    const double* y = cand.y.data();
    const double* z = cand.z.data();
    double* d2 = cand.d2.data();
#pragma omp simd
    for (std::size_t c = 0; c < nc; ++c) {
      const double dx = r[0] - x[c], dy = r[1] - y[c], dz = r[2] - z[c];
      d2[c] = dx * dx + dy * dy + dz * dz;
    }
  };

  // Memory before work: every thread gathers up to a stencil of the fullest bins' atoms, and a
  // periodic cell holds about n (n / V) 4/3 pi rc^3 edges (every image counted). An absurd cutoff
  // or box is refused here, before the counting pass, which could take hours.
  std::int64_t fullest = 0;
  for (std::int64_t b = 0; b < nbins; ++b)
    fullest = std::max(fullest, bin_start[b + 1] - bin_start[b]);
  const double gather_bytes = kCandidateBytes * static_cast<double>(stencil.size()) *
                              static_cast<double>(fullest) * omp_get_max_threads();
  const double atoms = static_cast<double>(n), sphere = 4.0 / 3.0 * M_PI * rc * rc * rc;
  const double periodic_edges =
      pbc[0] && pbc[1] && pbc[2] ? atoms * atoms / std::abs(cell.determinant()) * sphere : 0;
  std::string what = "the neighbour graph of " + std::to_string(n) + " atoms with a ";
  append_double(what, rc);
  what += " Å cutoff";
  const std::string hint = "a glass needs a cutoff of a few Å (5 Å: about 33 edges per atom)";
  require_memory(what, gather_bytes + kEdgeBytes * periodic_edges, hint);

  // Pass 1 counts each atom's incoming edges, pass 2 writes them into their CSR slots.
  for_each_bin(nbins, [&](std::int64_t b, Candidates& cand) {
    if (bin_start[b] == bin_start[b + 1]) return;
    gather(b, cand);
    for (std::int64_t slot = bin_start[b]; slot < bin_start[b + 1]; ++slot) {
      distances(cand, &wrapped[3 * slot]);
      std::int64_t count = 0;
      for (double d2 : cand.d2) count += d2 < rc2;
      g.offsets[static_cast<std::size_t>(bin_atoms[slot]) + 1] = count - (self ? 0 : 1);
    }
  });
  for (std::size_t i = 0; i < n; ++i) g.offsets[i + 1] += g.offsets[i];
  const auto edges = static_cast<std::size_t>(g.offsets[n]);
  require_memory(what + " (" + std::to_string(edges) + " edges)",
                 gather_bytes + kEdgeBytes * static_cast<double>(edges), hint);
  g.src.resize(edges);
  g.dst.resize(edges);
  g.image.resize(edges);
  g.vec.resize(3 * edges);
  for_each_bin(nbins, [&](std::int64_t b, Candidates& cand) {
    if (bin_start[b] == bin_start[b + 1]) return;
    gather(b, cand);
    for (std::int64_t slot = bin_start[b]; slot < bin_start[b + 1]; ++slot) {
      const double* r = &wrapped[3 * slot];
      const std::int32_t j = bin_atoms[slot];
      distances(cand, r);
      auto e = static_cast<std::size_t>(g.offsets[static_cast<std::size_t>(j)]);
      for (std::size_t c = 0; c < cand.d2.size(); ++c) {
        if (!(cand.d2[c] < rc2)) continue;
        if (!self && cand.atom[c] == j && cand.image[c] == Image{}) continue;
        g.src[e] = cand.atom[c];
        g.dst[e] = j;
        g.image[e] = cand.image[c];
        g.vec[3 * e] = static_cast<float>(r[0] - cand.x[c]);
        g.vec[3 * e + 1] = static_cast<float>(r[1] - cand.y[c]);
        g.vec[3 * e + 2] = static_cast<float>(r[2] - cand.z[c]);
        ++e;
      }
    }
  });
  // Two atoms on (almost) one spot: the model would predict from a zero edge vector without a
  // word (-10 eV in the case that found this).
  const auto min2 = static_cast<float>(options.min_distance * options.min_distance);
  std::int64_t overlap = -1;
#pragma omp parallel for reduction(max : overlap)
  for (std::int64_t e = 0; e < g.num_edges(); ++e) {
    const float* v = &g.vec[static_cast<std::size_t>(3 * e)];
    const bool itself = g.src[e] == g.dst[e] && g.image[e] == Image{};
    if (!itself && v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < min2) overlap = std::max(overlap, e);
  }
  if (overlap >= 0) {
    const auto e = static_cast<std::size_t>(overlap);
    const auto atom = [&](std::int32_t i) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%d at (%.4f, %.4f, %.4f)", i + 1,
                    positions[3 * static_cast<std::size_t>(i)],
                    positions[3 * static_cast<std::size_t>(i) + 1],
                    positions[3 * static_cast<std::size_t>(i) + 2]);
      return std::string(buf);
    };
    const float* v = &g.vec[3 * e];
    char d[32];
    std::snprintf(d, sizeof d, "%.4f", std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]));
    std::string msg = "neighbour graph: atoms " + atom(g.src[e]) + " and " + atom(g.dst[e]) +
                      " (in input order) are " + d + " Å apart: overlapping atoms (closer than ";
    append_double(msg, options.min_distance);
    throw Error(msg + " Å)");
  }
  return g;
}

}  // namespace symgnn
