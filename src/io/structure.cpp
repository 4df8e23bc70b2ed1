#include "io/structure.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.hpp"
#include "core/text.hpp"
#include "io/elements.hpp"

namespace symgnn {

const AtomProperty* Structure::find_property(const std::string& name) const {
  for (const auto& p : properties)
    if (p.name == name) return &p;
  return nullptr;
}

const AtomProperty& Structure::require_property(const std::string& name) const {
  if (const AtomProperty* p = find_property(name)) return *p;
  std::string have;
  for (const auto& p : properties) have += (have.empty() ? "" : ", ") + p.name;
  throw Error(source + ": per-atom column '" + name + "' is missing (columns present: " +
              (have.empty() ? std::string("none besides species, positions, ids") : have) + ")");
}

void Structure::set_property(AtomProperty column) {
  std::erase_if(properties, [&](const AtomProperty& a) { return a.name == column.name; });
  properties.push_back(std::move(column));
}

std::int32_t Structure::species_code(const std::string& symbol) {
  auto it = std::find(species_names.begin(), species_names.end(), symbol);
  if (it != species_names.end()) return static_cast<std::int32_t>(it - species_names.begin());
  species_names.push_back(symbol);
  return static_cast<std::int32_t>(species_names.size() - 1);
}

void Structure::validate() const {
  const std::size_t n = size();
  auto fail = [&](const std::string& what) { throw Error(source + ": " + what); };
  if (positions.size() != 3 * n)
    fail("positions hold " + std::to_string(positions.size()) +
         " numbers, expected 3 per atom for " + std::to_string(n));
  if (ids.size() != n)
    fail("ids hold " + std::to_string(ids.size()) + " entries, expected " + std::to_string(n));
  for (const auto& p : properties) {
    if (p.components < 1 || p.values.size() != n * static_cast<std::size_t>(p.components))
      fail("column '" + p.name + "' has " + std::to_string(p.values.size()) + " values, expected " +
           std::to_string(n) + " x " + std::to_string(p.components));
    for (double v : p.values)
      if (!std::isfinite(v)) fail("column '" + p.name + "' holds a NaN or infinite value");
  }
  // Lengths this large are no structure, and their products (cell volumes, bounding boxes)
  // overflow: a fuzzed pair of atoms 9e307 Å apart crashed the neighbour graph.
  constexpr double kMaxLength = 1e12;
  auto beyond = [&](const char* what, double v) {
    std::string shown;
    append_double(shown, v);
    fail(std::string(what) + " hold " + shown + " Å, beyond the ±1e12 Å a structure can span");
  };
  for (double v : positions) {
    if (!std::isfinite(v)) fail("positions hold a NaN or infinite value");
    if (std::abs(v) > kMaxLength) beyond("positions", v);
  }
  for (std::int32_t s : species)
    if (s < 0 || static_cast<std::size_t>(s) >= species_names.size())
      fail("species code " + std::to_string(s) + " has no symbol");
  for (const auto& name : species_names)
    if (!is_element_symbol(name)) fail("unknown species '" + name + "': not a chemical element");
  for (double v : cell.h) {
    if (!std::isfinite(v)) fail("the cell holds a NaN or infinite value");
    if (std::abs(v) > kMaxLength) beyond("the cell's vectors", v);
  }
  std::vector<std::int64_t> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  if (auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end()) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < n && at.size() < 2; ++i)
      if (ids[i] == *twice) at.push_back(i + 1);
    fail("duplicate atom id " + std::to_string(*twice) + " (atoms " + std::to_string(at[0]) +
         " and " + std::to_string(at[1]) + " in file order)");
  }
  bool any_pbc = pbc[0] || pbc[1] || pbc[2];
  if (any_pbc && cell.is_degenerate())
    fail(
        "the cell is degenerate (its lattice vectors span no volume) but the structure is "
        "periodic");
}

std::int64_t block_start(std::int64_t n, int rank, int ranks) {
  return n * rank / ranks;
}

int block_rank(std::int64_t n, std::int64_t i, int ranks) {
  return static_cast<int>(((i + 1) * ranks - 1) / n);  // the last rank with block_start <= i
}

StructureBlock block_of(Structure s, int rank, int ranks) {
  StructureBlock b;
  b.total = static_cast<std::int64_t>(s.size());
  b.first = block_start(b.total, rank, ranks);
  const auto lo = static_cast<std::size_t>(b.first);
  const auto hi = static_cast<std::size_t>(block_start(b.total, rank + 1, ranks));
  if (lo > 0 || hi < s.size()) {
    auto slice = [&](auto& v, std::size_t width) {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(hi * width), v.end());
      v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo * width));
      v.shrink_to_fit();
    };
    slice(s.positions, 3);
    slice(s.species, 1);
    slice(s.ids, 1);
    for (auto& p : s.properties) slice(p.values, static_cast<std::size_t>(p.components));
  }
  b.part = std::move(s);
  return b;
}

Structure replicate(const Structure& s, std::array<int, 3> n) {
  for (int k = 0; k < 3; ++k) {
    if (n[k] < 1 || n[k] > 1000)
      throw UsageError("replicate: expected counts from 1 to 1000, not " + std::to_string(n[k]));
    if (n[k] > 1 && !s.pbc[k])
      throw Error(s.source + ": cannot replicate along lattice vector " + std::to_string(k + 1) +
                  ", which is not periodic");
  }
  const std::size_t atoms = s.size();
  const std::size_t copies = static_cast<std::size_t>(n[0]) * n[1] * n[2];
  // The span of the ids, so that copies never overlap whatever the first id (0, 1 or negative).
  std::int64_t id_stride = 0;
  if (atoms > 0) {
    const auto [lo, hi] = std::minmax_element(s.ids.begin(), s.ids.end());
    id_stride = *hi - *lo + 1;
  }

  Structure r;
  r.source = s.source + " replicated " + std::to_string(n[0]) + "x" + std::to_string(n[1]) + "x" +
             std::to_string(n[2]);
  r.cell = s.cell;
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 3; ++c) r.cell.h[3 * k + c] *= n[k];
  r.pbc = s.pbc;
  r.species_names = s.species_names;
  r.info = s.info;
  r.positions.resize(3 * atoms * copies);
  r.species.resize(atoms * copies);
  r.ids.resize(atoms * copies);
  r.properties = s.properties;
  for (auto& p : r.properties) p.values.resize(p.values.size() * copies);

  std::size_t copy = 0;
  for (int cz = 0; cz < n[2]; ++cz)
    for (int cy = 0; cy < n[1]; ++cy)
      for (int cx = 0; cx < n[0]; ++cx, ++copy) {
        double shift[3];
        for (int c = 0; c < 3; ++c)
          shift[c] = cx * s.cell.h[c] + cy * s.cell.h[3 + c] + cz * s.cell.h[6 + c];
        const std::size_t base = copy * atoms;
        for (std::size_t i = 0; i < atoms; ++i) {
          for (int c = 0; c < 3; ++c)
            r.positions[3 * (base + i) + c] = s.positions[3 * i + c] + shift[c];
          r.species[base + i] = s.species[i];
          r.ids[base + i] = s.ids[i] + static_cast<std::int64_t>(copy) * id_stride;
        }
        for (std::size_t p = 0; p < s.properties.size(); ++p) {
          const auto& src = s.properties[p].values;
          std::copy(src.begin(), src.end(), r.properties[p].values.begin() + copy * src.size());
        }
      }
  return r;
}

std::vector<std::string> parse_type_map(const std::string& text) {
  std::vector<std::string> map;
  std::string spec = text;
  std::replace(spec.begin(), spec.end(), ',', ' ');
  std::istringstream in(spec);
  std::string item;
  int next = 1;
  while (in >> item) {
    auto eq = item.find('=');
    std::string symbol = item;
    int type = next;
    if (eq != std::string::npos) {
      std::int64_t t;
      if (!parse_int64(item.substr(0, eq), t) || t < 1 || t > 1000)
        throw UsageError("type map '" + text + "': expected TYPE=SYMBOL with TYPE >= 1, got '" +
                         item + "'");
      type = static_cast<int>(t);
      symbol = item.substr(eq + 1);
    }
    if (!is_element_symbol(symbol))
      throw UsageError("type map '" + text + "': '" + symbol + "' is not a chemical element");
    if (static_cast<int>(map.size()) < type) map.resize(static_cast<std::size_t>(type));
    std::string& slot = map[static_cast<std::size_t>(type - 1)];
    if (!slot.empty())
      throw UsageError("type map '" + text + "': type " + std::to_string(type) +
                       " is given twice (" + slot + " and " + symbol + ")");
    slot = symbol;
    next = type + 1;
  }
  return map;
}

}  // namespace symgnn
