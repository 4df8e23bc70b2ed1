// LAMMPS data files, atom style atomic (`id type x y z [ix iy iz]`).
#pragma once

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

// Species come from `type_map` (type t is type_map[t-1]) or, when it is empty, from comments in
// the Masses section (`1 63.546 # Cu`).
Structure read_lammps_data(const std::string& path, const std::vector<std::string>& type_map);

}  // namespace symgnn
