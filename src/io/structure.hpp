// An atomic structure as every reader produces and every writer consumes it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cell.hpp"

namespace symgnn {

// A per-atom column other than species, positions and ids (labels such as energy_barrier).
struct AtomProperty {
  std::string name;
  int components = 1;
  bool integer = false;        // written back as an integer column
  std::vector<double> values;  // size() * components, atom-major
  std::string units;           // "eV" for predicted barriers; empty where the source says none
};

struct Structure {
  std::string source;  // provenance: "FILE" or "FILE#FRAME"
  Cell cell;
  std::array<bool, 3> pbc{true, true, true};
  std::vector<double> positions;           // 3 per atom, Cartesian, Å
  std::vector<std::string> species_names;  // chemical symbols; species[i] indexes this table
  std::vector<std::int32_t> species;
  std::vector<std::int64_t> ids;  // atom ids as in the source (1..N when the source has none)
  std::vector<AtomProperty> properties;
  std::vector<std::pair<std::string, std::string>> info;  // other key=value metadata

  std::size_t size() const { return species.size(); }
  const AtomProperty* find_property(const std::string& name) const;
  // The named column, or an Error naming the structure, the column and the columns it does have.
  const AtomProperty& require_property(const std::string& name) const;
  AtomProperty& require_property(const std::string& name) {
    return const_cast<AtomProperty&>(std::as_const(*this).require_property(name));
  }
  // Adds the column, replacing one of the same name (a prediction written over an input's).
  void set_property(AtomProperty column);
  // Index of `symbol` in species_names, appending it if new.
  std::int32_t species_code(const std::string& symbol);
  // Throws Error (naming `source`) on inconsistent sizes, degenerate cells, non-finite numbers.
  void validate() const;
};

// One rank's share of a structure too large for every rank to hold: atoms [first, first +
// part.size()) of `total`, with the whole structure's cell, species table, columns and metadata.
struct StructureBlock {
  Structure part;
  std::int64_t first = 0;
  std::int64_t total = 0;
};

// Where rank `rank` of `ranks` starts its block of n atoms: blocks are contiguous and differ in
// size by at most one atom (block_start(n, ranks, ranks) == n).
std::int64_t block_start(std::int64_t n, int rank, int ranks);
// The rank whose block holds atom i.
int block_rank(std::int64_t n, std::int64_t i, int ranks);
// Rank `rank`'s block of a whole structure.
StructureBlock block_of(Structure s, int rank, int ranks);

// The structure repeated nx × ny × nz times along its lattice vectors (periodic directions only).
// Atom ids of copy c (0-based, x fastest) become id + c · (max id − min id + 1), so they stay
// unique; ids 1..N become 1..N·copies.
Structure replicate(const Structure& s, std::array<int, 3> n);

// Maps LAMMPS numeric atom types (1-based) to chemical symbols, from "Cu Zr" or "1=Cu,2=Zr".
std::vector<std::string> parse_type_map(const std::string& text);

}  // namespace symgnn
