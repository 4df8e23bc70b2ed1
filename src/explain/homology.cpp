#include "explain/homology.hpp"

#include <gudhi/Alpha_complex_3d.h>
#include <gudhi/Persistent_cohomology.h>
#include <gudhi/Simplex_tree.h>

#include <algorithm>
#include <map>
#include <queue>
#include <string>

#include "core/error.hpp"

namespace symgnn {

namespace {

using AlphaComplex =
    Gudhi::alpha_complex::Alpha_complex_3d<Gudhi::alpha_complex::complexity::SAFE, false, false>;
using SimplexTree = Gudhi::Simplex_tree<>;
using Cohomology =
    Gudhi::persistent_cohomology::Persistent_cohomology<SimplexTree,
                                                        Gudhi::persistent_cohomology::Field_Zp>;

std::array<int, 2> ordered(int a, int b) {
  return {std::min(a, b), std::max(a, b)};
}

// The fewest-edge path from `from` to `to` over `adjacent`, as edges; empty when none.
std::vector<std::array<int, 2>> shortest_path(const std::vector<std::vector<int>>& adjacent,
                                              int from, int to) {
  std::vector<int> parent(adjacent.size(), -1);
  std::queue<int> q;
  q.push(from);
  parent[static_cast<std::size_t>(from)] = from;
  while (!q.empty() && parent[static_cast<std::size_t>(to)] < 0) {
    const int v = q.front();
    q.pop();
    for (const int w : adjacent[static_cast<std::size_t>(v)])
      if (parent[static_cast<std::size_t>(w)] < 0) {
        parent[static_cast<std::size_t>(w)] = v;
        q.push(w);
      }
  }
  std::vector<std::array<int, 2>> path;
  if (parent[static_cast<std::size_t>(to)] < 0) return path;
  for (int v = to; v != from; v = parent[static_cast<std::size_t>(v)])
    path.push_back(ordered(v, parent[static_cast<std::size_t>(v)]));
  return path;
}

}  // namespace

std::vector<CyclePair> h1_optimal_cycles(const std::vector<std::array<double, 3>>& points) {
  if (points.size() < 4)
    throw Error("homology: an alpha complex in 3-D needs at least 4 points, not " +
                std::to_string(points.size()));
  std::vector<AlphaComplex::Point_3> cgal;
  std::map<std::array<double, 3>, int> index;  // GUDHI's vertex -> our point, by its coordinates
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!index.emplace(points[i], static_cast<int>(i)).second)
      throw Error("homology: points " + std::to_string(index[points[i]]) + " and " +
                  std::to_string(i) + " coincide");
    cgal.emplace_back(points[i][0], points[i][1], points[i][2]);
  }
  AlphaComplex alpha(cgal);
  SimplexTree st;
  alpha.create_complex(st);
  std::vector<int> ours(st.num_vertices());
  for (const auto v : st.complex_vertex_range()) {
    const auto& p = alpha.get_point(static_cast<std::size_t>(v));
    ours[static_cast<std::size_t>(v)] =
        index.at({CGAL::to_double(p.x()), CGAL::to_double(p.y()), CGAL::to_double(p.z())});
  }
  // Edges in filtration order: an edge's rank says which edges entered before it.
  std::map<std::array<int, 2>, std::size_t> rank;
  std::vector<std::array<int, 2>> edges;
  for (const auto& sh : st.filtration_simplex_range()) {
    if (st.dimension(sh) != 1) continue;
    std::vector<int> vs;
    for (const auto v : st.simplex_vertex_range(sh))
      vs.push_back(ours[static_cast<std::size_t>(v)]);
    rank[ordered(vs[0], vs[1])] = edges.size();
    edges.push_back(ordered(vs[0], vs[1]));
  }
  Cohomology pcoh(st);
  pcoh.init_coefficients(2);
  pcoh.compute_persistent_cohomology(0);
  std::vector<CyclePair> out;
  for (const auto& pair : pcoh.get_persistent_pairs()) {
    const auto birth = std::get<0>(pair);
    const auto death = std::get<1>(pair);
    if (st.dimension(birth) != 1 || death == st.null_simplex()) continue;
    CyclePair c;
    c.birth = st.filtration(birth);
    c.death = st.filtration(death);
    if (!(c.death > c.birth)) continue;  // born and killed at one alpha: no loop to speak of
    std::vector<int> vs;
    for (const auto v : st.simplex_vertex_range(birth))
      vs.push_back(ours[static_cast<std::size_t>(v)]);
    c.birth_edge = ordered(vs[0], vs[1]);
    std::vector<std::vector<int>> adjacent(points.size());
    for (std::size_t e = 0; e < rank.at(c.birth_edge); ++e) {
      adjacent[static_cast<std::size_t>(edges[e][0])].push_back(edges[e][1]);
      adjacent[static_cast<std::size_t>(edges[e][1])].push_back(edges[e][0]);
    }
    c.cycle = shortest_path(adjacent, c.birth_edge[0], c.birth_edge[1]);
    if (c.cycle.empty()) continue;
    c.cycle.push_back(c.birth_edge);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const CyclePair& a, const CyclePair& b) {
    return a.birth != b.birth ? a.birth < b.birth : a.birth_edge < b.birth_edge;
  });
  return out;
}

}  // namespace symgnn
