// Extended XYZ (ASE's convention): a count line, a comment line of key=value pairs (Lattice,
// Properties, pbc, and OVITO's Origin), then one line per atom; frames follow one another.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

std::vector<Structure> read_extxyz(const std::string& path);
// Serialises frames into `out` (species, pos, id, then every property column).
void format_extxyz(const std::vector<Structure>& frames, std::string& out);
// The two lines before a frame of `atoms` atoms, and the lines of the atoms `s` holds: a frame
// written in blocks by many ranks is one header and their atom lines in order.
void format_extxyz_header(const Structure& s, std::int64_t atoms, std::string& out);
void format_extxyz_atoms(const Structure& s, std::string& out);

}  // namespace symgnn
