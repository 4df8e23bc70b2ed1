#include "parallel/decompose.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "graph/spatial_order.hpp"
#include "parallel/domain.hpp"

namespace symgnn {

void Layout::validate() const {
  if (groups < 1 || ranks % groups != 0)
    throw UsageError("--groups " + std::to_string(groups) + " does not divide the " +
                     std::to_string(ranks) + " ranks");
  if (grid != "auto" && parse_grid(grid).count() != group_size())
    throw UsageError("--grid " + grid + " has " + std::to_string(parse_grid(grid).count()) +
                     " subdomains, but each group has " + std::to_string(group_size()) + " ranks");
}

namespace {

// One structure of the group, seen from every subdomain.
struct Split {
  const Structure* s = nullptr;
  std::int64_t first_id = 0;        // node_id of its atom 0 in the whole batch
  std::vector<double> frac, wrap;   // wrapped fractional and Cartesian positions, 3 per atom
  std::vector<int> owner;           // subdomain of each atom
  std::vector<std::int64_t> place;  // each atom's place among its owner's atoms of this structure
  std::vector<std::vector<std::int64_t>> atoms;  // per subdomain: its atoms, in spatial order
  std::vector<std::int64_t> ghosts;              // this rank's ghosts: atom
  std::vector<Image> ghost_images;               //   and image
  std::string grid;
};

Split split_structure(const Structure& s, std::int64_t first_id, const Layout& layout, int sub,
                      double cutoff) {
  Split sp;
  sp.s = &s;
  sp.first_id = first_id;
  const ProcGrid grid =
      layout.grid == "auto" ? choose_grid(layout.group_size(), s.cell) : parse_grid(layout.grid);
  sp.grid = grid.str();
  const Domain domain(s.cell, s.pbc, grid);
  const auto n = static_cast<std::int64_t>(s.size());
  sp.frac = wrapped_fractional(s.cell, s.pbc, s.positions);
  sp.wrap.resize(sp.frac.size());
  sp.owner.resize(static_cast<std::size_t>(n));
  sp.atoms.resize(static_cast<std::size_t>(grid.count()));
  for (std::int64_t i = 0; i < n; ++i) {
    to_cartesian(s.cell, &sp.frac[3 * i], &sp.wrap[3 * i]);
    sp.owner[i] = domain.owner(&sp.frac[3 * i]);
    sp.atoms[static_cast<std::size_t>(sp.owner[i])].push_back(i);
  }
  // Each subdomain's atoms in spatial order (every rank computes every owner's numbering, so
  // ghosts know their owners' local indices without asking).
  sp.place.resize(static_cast<std::size_t>(n));
  for (auto& list : sp.atoms) {
    std::vector<double> pos;
    pos.reserve(3 * list.size());
    for (std::int64_t i : list)
      pos.insert(pos.end(), s.positions.begin() + 3 * i, s.positions.begin() + 3 * i + 3);
    const std::vector<std::int64_t> order = spatial_order(pos);
    std::vector<std::int64_t> sorted(list.size());
    for (std::size_t k = 0; k < list.size(); ++k) {
      sorted[k] = list[static_cast<std::size_t>(order[k])];
      sp.place[static_cast<std::size_t>(sorted[k])] = static_cast<std::int64_t>(k);
    }
    list = std::move(sorted);
  }
  // Ghosts: every image of every atom within reach of this subdomain (a box test in fractional
  // coordinates through the perpendicular widths: it can only include too many), except the
  // subdomain's own atoms themselves. Thin subdomains simply reach several subdomains away.
  double lo[3], hi[3];
  int nmin[3], nmax[3];
  for (int k = 0; k < 3; ++k) {
    const double r = domain.reach(cutoff, k) + 1e-9;
    lo[k] = domain.lo(sub, k) - r;
    hi[k] = domain.hi(sub, k) + r;
    nmin[k] = static_cast<int>(std::floor(lo[k])) - 1;
    nmax[k] = static_cast<int>(std::ceil(hi[k])) + 1;
    if (nmax[k] > 15 || nmin[k] < -15)
      throw UsageError(s.source +
                       ": the cutoff reaches more than 15 boxes away; the box is too thin");
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const double* f = &sp.frac[3 * i];
    for (int a = nmin[0]; a <= nmax[0]; ++a) {
      if (f[0] + a < lo[0] || f[0] + a >= hi[0]) continue;
      for (int b = nmin[1]; b <= nmax[1]; ++b) {
        if (f[1] + b < lo[1] || f[1] + b >= hi[1]) continue;
        for (int c = nmin[2]; c <= nmax[2]; ++c) {
          if (f[2] + c < lo[2] || f[2] + c >= hi[2]) continue;
          if (a == 0 && b == 0 && c == 0 && sp.owner[i] == sub) continue;
          sp.ghosts.push_back(i);
          sp.ghost_images.push_back(Image{static_cast<std::int8_t>(a), static_cast<std::int8_t>(b),
                                          static_cast<std::int8_t>(c)});
        }
      }
    }
  }
  return sp;
}

}  // namespace

LocalBatch decompose(const std::vector<const Structure*>& structures, const Layout& layout,
                     int rank, const std::vector<std::string>& species_names,
                     const std::string& label, const NeighborOptions& options) {
  layout.validate();
  const int gsize = layout.group_size();
  const int group = rank / gsize, sub = rank % gsize, base = group * gsize;
  LocalBatch out;
  GraphBatch& b = out.batch;

  // The group's structures, split.
  std::vector<Split> splits;
  std::int64_t first_id = 0;
  for (std::size_t s = 0; s < structures.size(); ++s) {
    if (static_cast<int>(s % static_cast<std::size_t>(layout.groups)) == group) {
      splits.push_back(split_structure(*structures[s], first_id, layout, sub, options.cutoff));
      out.grids.push_back(splits.back().grid);
      b.sources.push_back(structures[s]->source);
    }
    first_id += static_cast<std::int64_t>(structures[s]->size());
  }
  if (first_id > (std::int64_t{1} << 32))
    throw Error("decompose: more than 2^32 atoms in one batch");

  // Local numbering: own atoms of every structure, then the ghosts of every structure.
  // owner_base[s][q]: where subdomain q's atoms of structure s start among q's own nodes.
  std::vector<std::vector<std::int64_t>> owner_base(splits.size(),
                                                    std::vector<std::int64_t>(gsize, 0));
  for (std::size_t s = 1; s < splits.size(); ++s)
    for (int q = 0; q < gsize; ++q)
      owner_base[s][static_cast<std::size_t>(q)] =
          owner_base[s - 1][static_cast<std::size_t>(q)] +
          static_cast<std::int64_t>(splits[s - 1].atoms[static_cast<std::size_t>(q)].size());
  std::int64_t owned = 0, ghosts = 0;
  for (const Split& sp : splits) {
    owned += static_cast<std::int64_t>(sp.atoms[static_cast<std::size_t>(sub)].size());
    ghosts += static_cast<std::int64_t>(sp.ghosts.size());
  }
  b.num_owned = owned;
  b.num_nodes = owned + ghosts;
  const auto nl = static_cast<std::size_t>(b.num_nodes);
  b.species.resize(nl);
  b.node_id.resize(nl);
  if (!label.empty()) b.label.resize(static_cast<std::size_t>(owned));
  b.offsets.assign(nl + 1, 0);
  out.ghost_rank.reserve(static_cast<std::size_t>(ghosts));
  out.ghost_index.reserve(static_cast<std::size_t>(ghosts));

  std::int64_t own0 = 0, ghost0 = owned;
  for (std::size_t si = 0; si < splits.size(); ++si) {
    const Split& sp = splits[si];
    const Structure& st = *sp.s;
    const std::vector<std::int32_t> code = species_codes(st, species_names);
    const AtomProperty* y = label.empty() ? nullptr : &st.require_property(label);
    const std::vector<std::int64_t>& mine = sp.atoms[static_cast<std::size_t>(sub)];
    const auto n_own = static_cast<std::int64_t>(mine.size());
    const auto n_ghost = static_cast<std::int64_t>(sp.ghosts.size());

    // Local positions: own atoms (wrapped) then ghosts (wrapped + image shift).
    std::vector<double> pos(static_cast<std::size_t>(3 * (n_own + n_ghost)));
    auto atom_of = [&](std::int64_t k) {
      return k < n_own ? mine[static_cast<std::size_t>(k)]
                       : sp.ghosts[static_cast<std::size_t>(k - n_own)];
    };
    auto image_of = [&](std::int64_t k) {
      return k < n_own ? Image{} : sp.ghost_images[static_cast<std::size_t>(k - n_own)];
    };
    for (std::int64_t k = 0; k < n_own + n_ghost; ++k) {
      const std::int64_t i = atom_of(k);
      double shift[3];
      image_shift(st.cell, image_of(k), shift);
      for (int c = 0; c < 3; ++c)
        pos[static_cast<std::size_t>(3 * k + c)] = sp.wrap[3 * i + c] + shift[c];
    }
    for (std::int64_t k = 0; k < n_own + n_ghost; ++k) {
      const std::int64_t i = atom_of(k);
      const auto local = static_cast<std::size_t>(k < n_own ? own0 + k : ghost0 + (k - n_own));
      b.species[local] = code[static_cast<std::size_t>(st.species[static_cast<std::size_t>(i)])];
      b.node_id[local] = sp.first_id + i;
      if (k < n_own) {
        if (y)
          b.label[local] =
              static_cast<float>(y->values[static_cast<std::size_t>(i * y->components)]);
      } else {
        out.ghost_rank.push_back(base + sp.owner[static_cast<std::size_t>(i)]);
        out.ghost_index.push_back(
            owner_base[si][static_cast<std::size_t>(sp.owner[static_cast<std::size_t>(i)])] +
            sp.place[static_cast<std::size_t>(i)]);
      }
    }

    // Candidate pairs from a cell list over the local atoms (no periodicity left: the ghosts
    // are the images), then the whole graph's own test and vector for the edges into own atoms.
    NeighborOptions wide = options;
    wide.cutoff = options.cutoff * (1 + 1e-9) + 1e-9;
    const Graph local = build_graph(Cell{}, {false, false, false}, pos, wide);
    const double rc2 = options.cutoff * options.cutoff;
    for (std::int64_t j = 0; j < n_own; ++j) {
      const std::int64_t dst_atom = mine[static_cast<std::size_t>(j)];
      const double* r = &sp.wrap[3 * dst_atom];
      const auto lj = static_cast<std::size_t>(own0 + j);
      for (std::int64_t e = local.offsets[static_cast<std::size_t>(j)];
           e < local.offsets[static_cast<std::size_t>(j) + 1]; ++e) {
        const std::int64_t k = local.src[static_cast<std::size_t>(e)];
        const std::int64_t src_atom = atom_of(k);
        const Image n = image_of(k);
        if (!options.self_edges && src_atom == dst_atom && n == Image{}) continue;
        double shift[3], cand[3];
        image_shift(st.cell, n, shift);
        for (int c = 0; c < 3; ++c) cand[c] = sp.wrap[3 * src_atom + c] + shift[c];
        const double dx = r[0] - cand[0], dy = r[1] - cand[1], dz = r[2] - cand[2];
        if (!(dx * dx + dy * dy + dz * dz < rc2)) continue;
        const std::int64_t src_local = k < n_own ? own0 + k : ghost0 + (k - n_own);
        b.src.push_back(static_cast<std::int32_t>(src_local));
        b.dst.push_back(static_cast<std::int32_t>(lj));
        b.vec.push_back(static_cast<float>(dx));
        b.vec.push_back(static_cast<float>(dy));
        b.vec.push_back(static_cast<float>(dz));
        b.edge_key.push_back(edge_key(sp.first_id + dst_atom, sp.first_id + src_atom));
        b.edge_image.push_back(image_code(n));
        ++b.offsets[lj + 1];
      }
    }
    own0 += n_own;
    ghost0 += n_ghost;
  }
  for (std::size_t i = 0; i < nl; ++i) b.offsets[i + 1] += b.offsets[i];
  b.num_edges = static_cast<std::int64_t>(b.src.size());
  b.node_begin = {0, b.num_owned};
  build_transpose(b);
  return out;
}

}  // namespace symgnn
