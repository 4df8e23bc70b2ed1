// LAMMPS text dumps (`dump atom` / `dump custom`): multi-frame, orthogonal or triclinic boxes,
// coordinates as x y z, scaled xs ys zs, or unwrapped xu yu zu (xsu ysu zsu).
#pragma once

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

// `type_map[t-1]` names LAMMPS type t; it is needed only when the dump has no `element` column.
std::vector<Structure> read_lammps_dump(const std::string& path,
                                        const std::vector<std::string>& type_map);
// Writes `ITEM: ATOMS id type element x y z <properties>`; types number species_names from 1.
void format_lammps_dump(const std::vector<Structure>& frames, std::string& out);

}  // namespace symgnn
