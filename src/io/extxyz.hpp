// Extended XYZ (ASE's convention): a count line, a comment line of key=value pairs (Lattice,
// Properties, pbc, and OVITO's Origin), then one line per atom; frames follow one another.
#pragma once

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

std::vector<Structure> read_extxyz(const std::string& path);
// Serialises frames into `out` (species, pos, id, then every property column).
void format_extxyz(const std::vector<Structure>& frames, std::string& out);

}  // namespace symgnn
