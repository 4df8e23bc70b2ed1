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
  // Index of `symbol` in species_names, appending it if new.
  std::int32_t species_code(const std::string& symbol);
  // Throws Error (naming `source`) on inconsistent sizes, degenerate cells, non-finite numbers.
  void validate() const;
};

// The structure repeated nx × ny × nz times along its lattice vectors (periodic directions only).
// Atom ids of copy c (0-based, x fastest) become id + c · (max id), so they stay unique.
Structure replicate(const Structure& s, std::array<int, 3> n);

// Maps LAMMPS numeric atom types (1-based) to chemical symbols, from "Cu Zr" or "1=Cu,2=Zr".
std::vector<std::string> parse_type_map(const std::string& text);

}  // namespace symgnn
