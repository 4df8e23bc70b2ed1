// How the ranks of a job share a batch of structures, and this rank's part of it.
//
// The P ranks form G groups of P/G; structure s belongs to group s mod G (data parallelism) and
// is split over its group's ranks on a grid of subdomains (domain decomposition). A rank holds
// its own atoms of every structure of its group, then ghost copies (periodic images included) of
// every atom within the cutoff of its subdomains, and every edge into its own atoms, exactly as
// the whole graph has it (same vectors, bit for bit, and same keys).
//
// No rank needs a whole structure: each starts from its block of every structure (as read in
// parallel, io/formats.hpp), sends each atom to the rank that owns it, and owners send ghost
// copies to the ranks within reach (two all-to-all exchanges, like LAMMPS's exchange and borders).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "graph/neighbor.hpp"
#include "io/structure.hpp"
#include "model/batch.hpp"

namespace symgnn {

struct Layout {
  int ranks = 1;
  int groups = 1;
  std::string grid = "auto";  // or "AxBxC" with A B C = ranks / groups, for every structure

  int group_size() const { return ranks / groups; }
  void validate() const;  // UsageError on a layout that does not divide the ranks
};

struct LocalBatch {
  GraphBatch batch;             // num_owned own atoms first, then ghosts; labels of own atoms only
  std::vector<int> ghost_rank;  // per ghost: the rank that owns the atom
  std::vector<std::int64_t> ghost_index;  // per ghost: the atom's place among its owner's nodes
  std::vector<std::string> grids;         // per structure of the group: the grid used
};

// This rank's part of the batch made of the structures whose blocks every rank of `world` passes
// (layout.ranks ranks, the same structures in the same order). Collective over `world`.
LocalBatch decompose(const std::vector<const StructureBlock*>& blocks, const Layout& layout,
                     MPI_Comm world, const std::vector<std::string>& species_names,
                     const std::string& label, const NeighborOptions& options);

}  // namespace symgnn
