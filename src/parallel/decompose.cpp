#include "parallel/decompose.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>

#include "core/error.hpp"
#include "graph/spatial_order.hpp"
#include "parallel/alltoall.hpp"
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

// Each received record's sender, from the per-rank counts alltoall_records gives.
std::vector<int> senders(const std::vector<int>& counts) {
  std::vector<int> from;
  for (std::size_t r = 0; r < counts.size(); ++r)
    from.insert(from.end(), static_cast<std::size_t>(counts[r]), static_cast<int>(r));
  return from;
}

// An atom on its way from the rank that read it to the rank that owns it.
struct AtomRecord {
  std::int64_t atom;       // index in its structure
  std::int32_t structure;  // index in the batch
  std::int32_t species;    // the model's species code
  double position[3];      // as read
  double label;
};

// A ghost: one periodic image of an owned atom, for a rank within reach of it.
struct GhostRecord {
  std::int64_t atom;
  std::int64_t owner_index;  // the atom's place among its owner's nodes
  std::int32_t structure;
  std::int32_t species;
  double wrapped[3];  // the owner's wrapped Cartesian position, before the image's shift
  Image image;
};

// One structure of the batch as this rank sees it.
struct Split {
  const StructureBlock* block = nullptr;
  std::int64_t first_id = 0;  // node_id of its atom 0 in the whole batch
  int group = 0;              // the group of ranks it belongs to
  std::string grid;
  std::unique_ptr<Domain> domain;
  // This rank's own atoms (if the structure is its group's), in spatial order: index in the
  // structure, wrapped fractional and Cartesian positions, species code, label.
  std::vector<std::int64_t> atoms;
  std::vector<double> frac, wrap;
  std::vector<std::int32_t> species;
  std::vector<double> label;
  std::int64_t own0 = 0;            // where its own atoms start among this rank's nodes
  std::vector<GhostRecord> ghosts;  // ghosts received, by (atom, image)
  std::vector<int> ghost_rank;
};

// The owners' side of the split of one structure: its own atoms in spatial order.
void take_own_atoms(Split& sp, std::vector<AtomRecord> own) {
  const Structure& s = sp.block->part;
  const auto n = own.size();
  std::vector<double> pos(3 * n);
  for (std::size_t k = 0; k < n; ++k)
    std::copy(own[k].position, own[k].position + 3,
              pos.begin() + static_cast<std::ptrdiff_t>(3 * k));
  const std::vector<std::int64_t> order = spatial_order(pos);
  const std::vector<double> frac = wrapped_fractional(s.cell, s.pbc, pos);
  sp.atoms.resize(n);
  sp.species.resize(n);
  sp.label.resize(n);
  sp.frac.resize(3 * n);
  sp.wrap.resize(3 * n);
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = static_cast<std::size_t>(order[k]);
    sp.atoms[k] = own[i].atom;
    sp.species[k] = own[i].species;
    sp.label[k] = own[i].label;
    std::copy(&frac[3 * i], &frac[3 * i] + 3, &sp.frac[3 * k]);
    to_cartesian(s.cell, &sp.frac[3 * k], &sp.wrap[3 * k]);
  }
}

// Ghost copies of this rank's own atoms of a structure for every subdomain of its group within
// reach: every image of every atom inside a subdomain's box grown by the cutoff (a box test in
// fractional coordinates through the perpendicular widths: it can only include too many), except
// a subdomain's own atoms themselves. Thin subdomains simply reach several subdomains away.
void send_ghosts(const Split& sp, std::int32_t structure, int sub, int base, double cutoff,
                 std::vector<std::vector<GhostRecord>>& out) {
  const Domain& domain = *sp.domain;
  const int subdomains = domain.grid().count();
  for (int q = 0; q < subdomains; ++q) {
    double lo[3], hi[3];
    int nmin[3], nmax[3];
    for (int k = 0; k < 3; ++k) {
      const double r = domain.reach(cutoff, k) + 1e-9;
      lo[k] = domain.lo(q, k) - r;
      hi[k] = domain.hi(q, k) + r;
      nmin[k] = static_cast<int>(std::floor(lo[k])) - 1;
      nmax[k] = static_cast<int>(std::ceil(hi[k])) + 1;
      if (nmax[k] > kMaxImage || nmin[k] < -kMaxImage)
        throw UsageError(sp.block->part.source +
                         ": the cutoff reaches more than 15 boxes away; the box is too thin");
    }
    auto& to = out[static_cast<std::size_t>(base + q)];
    for (std::size_t k = 0; k < sp.atoms.size(); ++k) {
      const double* f = &sp.frac[3 * k];
      for (int a = nmin[0]; a <= nmax[0]; ++a) {
        if (f[0] + a < lo[0] || f[0] + a >= hi[0]) continue;
        for (int b = nmin[1]; b <= nmax[1]; ++b) {
          if (f[1] + b < lo[1] || f[1] + b >= hi[1]) continue;
          for (int c = nmin[2]; c <= nmax[2]; ++c) {
            if (f[2] + c < lo[2] || f[2] + c >= hi[2]) continue;
            if (a == 0 && b == 0 && c == 0 && q == sub) continue;
            GhostRecord g{sp.atoms[k],
                          sp.own0 + static_cast<std::int64_t>(k),
                          structure,
                          sp.species[k],
                          {},
                          Image{static_cast<std::int8_t>(a), static_cast<std::int8_t>(b),
                                static_cast<std::int8_t>(c)}};
            std::copy(&sp.wrap[3 * k], &sp.wrap[3 * k] + 3, g.wrapped);
            to.push_back(g);
          }
        }
      }
    }
  }
}

}  // namespace

LocalBatch decompose(const std::vector<const StructureBlock*>& blocks, const Layout& layout,
                     MPI_Comm world, const std::vector<std::string>& species_names,
                     const std::string& label, const NeighborOptions& options) {
  layout.validate();
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  const int gsize = layout.group_size();
  const int group = rank / gsize, sub = rank % gsize, base = group * gsize;
  const auto ranks = static_cast<std::size_t>(layout.ranks);
  LocalBatch out;
  GraphBatch& b = out.batch;

  // Every structure's split, and its atoms of this rank's blocks sent to their owners.
  std::vector<Split> splits(blocks.size());
  std::vector<std::vector<AtomRecord>> to_owner(ranks);
  std::int64_t first_id = 0;
  for (std::size_t s = 0; s < blocks.size(); ++s) {
    Split& sp = splits[s];
    const Structure& st = blocks[s]->part;
    sp.block = blocks[s];
    sp.first_id = first_id;
    first_id += blocks[s]->total;
    sp.group = static_cast<int>(s % static_cast<std::size_t>(layout.groups));
    const ProcGrid grid =
        layout.grid == "auto" ? choose_grid(gsize, st.cell) : parse_grid(layout.grid);
    sp.grid = grid.str();
    sp.domain = std::make_unique<Domain>(st.cell, st.pbc, grid);
    const std::vector<std::int32_t> code = species_codes(st, species_names);
    const AtomProperty* y = label.empty() ? nullptr : &st.require_property(label);
    const std::vector<double> frac = wrapped_fractional(st.cell, st.pbc, st.positions);
    for (std::size_t i = 0; i < st.size(); ++i) {
      AtomRecord a{blocks[s]->first + static_cast<std::int64_t>(i),
                   static_cast<std::int32_t>(s),
                   code[static_cast<std::size_t>(st.species[i])],
                   {},
                   y ? y->values[i * static_cast<std::size_t>(y->components)] : 0.0};
      std::copy(&st.positions[3 * i], &st.positions[3 * i] + 3, a.position);
      const int owner = sp.group * gsize + sp.domain->owner(&frac[3 * i]);
      to_owner[static_cast<std::size_t>(owner)].push_back(a);
    }
  }
  if (first_id > (std::int64_t{1} << 32))
    throw Error("decompose: more than 2^32 atoms in one batch");
  std::vector<AtomRecord> mine =
      alltoall_records(world, to_owner, nullptr, "sending atoms to their owners");
  to_owner.clear();
  // Received in rank order, so in structure order and, within one, by index (blocks are ranges).
  std::stable_sort(mine.begin(), mine.end(), [](const AtomRecord& x, const AtomRecord& y) {
    return x.structure < y.structure || (x.structure == y.structure && x.atom < y.atom);
  });

  // Own atoms (numbered first, structure after structure), and ghosts for the ranks in reach.
  std::vector<std::vector<GhostRecord>> to_ghost(ranks);
  std::int64_t owned = 0;
  auto next = mine.begin();
  for (std::size_t s = 0; s < splits.size(); ++s) {
    Split& sp = splits[s];
    if (sp.group != group) continue;
    auto end = std::find_if(next, mine.end(), [&](const AtomRecord& a) {
      return a.structure != static_cast<std::int32_t>(s);
    });
    take_own_atoms(sp, {next, end});
    next = end;
    sp.own0 = owned;
    owned += static_cast<std::int64_t>(sp.atoms.size());
    send_ghosts(sp, static_cast<std::int32_t>(s), sub, base, options.cutoff, to_ghost);
    out.grids.push_back(sp.grid);
    b.sources.push_back(sp.block->part.source);
  }
  mine.clear();
  std::vector<int> ghost_count;
  std::vector<GhostRecord> ghosts =
      alltoall_records(world, to_ghost, &ghost_count, "sending ghost atoms");
  const std::vector<int> from = senders(ghost_count);
  to_ghost.clear();
  // Ghosts by structure, atom and image: the same order on every rank however they arrived.
  std::vector<std::size_t> order(ghosts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](std::size_t i) {
    const GhostRecord& g = ghosts[i];
    return std::make_tuple(g.structure, g.atom, g.image.a, g.image.b, g.image.c);
  };
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return key(x) < key(y); });
  for (std::size_t i : order) {
    Split& sp = splits[static_cast<std::size_t>(ghosts[i].structure)];
    sp.ghosts.push_back(ghosts[i]);
    sp.ghost_rank.push_back(from[i]);
  }
  ghosts.clear();

  b.num_owned = owned;
  b.num_nodes = owned;
  for (const Split& sp : splits) b.num_nodes += static_cast<std::int64_t>(sp.ghosts.size());
  const auto nl = static_cast<std::size_t>(b.num_nodes);
  b.species.resize(nl);
  b.node_id.resize(nl);
  if (!label.empty()) b.label.resize(static_cast<std::size_t>(owned));
  b.offsets.assign(nl + 1, 0);
  out.ghost_rank.reserve(nl - static_cast<std::size_t>(owned));
  out.ghost_index.reserve(nl - static_cast<std::size_t>(owned));

  std::int64_t ghost0 = owned;
  for (const Split& sp : splits) {
    if (sp.group != group) continue;
    const Structure& st = sp.block->part;
    const auto n_own = static_cast<std::int64_t>(sp.atoms.size());
    const auto n_ghost = static_cast<std::int64_t>(sp.ghosts.size());

    // Local nodes: own atoms (wrapped) then ghosts (wrapped + image shift).
    std::vector<double> pos(static_cast<std::size_t>(3 * (n_own + n_ghost)));
    auto image_of = [&](std::int64_t k) {
      return k < n_own ? Image{} : sp.ghosts[static_cast<std::size_t>(k - n_own)].image;
    };
    auto wrapped = [&](std::int64_t k) {
      return k < n_own ? &sp.wrap[static_cast<std::size_t>(3 * k)]
                       : sp.ghosts[static_cast<std::size_t>(k - n_own)].wrapped;
    };
    auto atom_of = [&](std::int64_t k) {
      return k < n_own ? sp.atoms[static_cast<std::size_t>(k)]
                       : sp.ghosts[static_cast<std::size_t>(k - n_own)].atom;
    };
    for (std::int64_t k = 0; k < n_own + n_ghost; ++k) {
      double shift[3];
      image_shift(st.cell, image_of(k), shift);
      for (int c = 0; c < 3; ++c)
        pos[static_cast<std::size_t>(3 * k + c)] = wrapped(k)[c] + shift[c];
      const auto local = static_cast<std::size_t>(k < n_own ? sp.own0 + k : ghost0 + (k - n_own));
      b.node_id[local] = sp.first_id + atom_of(k);
      if (k < n_own) {
        b.species[local] = sp.species[static_cast<std::size_t>(k)];
        if (!label.empty())
          b.label[local] = static_cast<float>(sp.label[static_cast<std::size_t>(k)]);
      } else {
        const GhostRecord& g = sp.ghosts[static_cast<std::size_t>(k - n_own)];
        b.species[local] = g.species;
        out.ghost_rank.push_back(sp.ghost_rank[static_cast<std::size_t>(k - n_own)]);
        out.ghost_index.push_back(g.owner_index);
      }
    }

    // Candidate pairs from a cell list over the local atoms (no periodicity left: the ghosts
    // are the images), then the whole graph's own test and vector for the edges into own atoms.
    NeighborOptions wide = options;
    wide.cutoff = options.cutoff * (1 + 1e-9) + 1e-9;
    const Graph local = build_graph(Cell{}, {false, false, false}, pos, wide);
    const double rc2 = options.cutoff * options.cutoff;
    for (std::int64_t j = 0; j < n_own; ++j) {
      const std::int64_t dst_atom = atom_of(j);
      const double* r = wrapped(j);
      const auto lj = static_cast<std::size_t>(sp.own0 + j);
      for (std::int64_t e = local.offsets[static_cast<std::size_t>(j)];
           e < local.offsets[static_cast<std::size_t>(j) + 1]; ++e) {
        const std::int64_t k = local.src[static_cast<std::size_t>(e)];
        const std::int64_t src_atom = atom_of(k);
        const Image n = image_of(k);
        if (!options.self_edges && src_atom == dst_atom && n == Image{}) continue;
        double shift[3], cand[3];
        image_shift(st.cell, n, shift);
        for (int c = 0; c < 3; ++c) cand[c] = wrapped(k)[c] + shift[c];
        const double dx = r[0] - cand[0], dy = r[1] - cand[1], dz = r[2] - cand[2];
        if (!(dx * dx + dy * dy + dz * dz < rc2)) continue;
        const std::int64_t src_local = k < n_own ? sp.own0 + k : ghost0 + (k - n_own);
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
    ghost0 += n_ghost;
  }
  for (std::size_t i = 0; i < nl; ++i) b.offsets[i + 1] += b.offsets[i];
  b.num_edges = static_cast<std::int64_t>(b.src.size());
  b.node_begin = {0, b.num_owned};
  build_transpose(b);
  return out;
}

}  // namespace symgnn
