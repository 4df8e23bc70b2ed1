#include "python/structures.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/elements.hpp"

namespace symgnn::python {

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_text(const py::array& a) {
  std::string text = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) text += (k ? ", " : "") + std::to_string(a.shape(k));
  return text + (a.ndim() == 1 ? ",)" : ")");
}

bool present(const py::dict& d, const char* key) {
  return d.contains(key) && !d[key].is_none();
}

// A numeric array of `n` rows (and `columns` columns, 0: one dimension), or a UsageError naming
// `what` and the shape it had.
template <typename T>
Array<T> rows(const py::handle& value, std::size_t n, py::ssize_t columns,
              const std::string& what) {
  Array<T> a;
  try {
    a = py::cast<Array<T>>(value);
  } catch (const py::cast_error&) {
    throw UsageError(what + ": expected numbers");
  }
  const bool ok = columns == 0 ? a.ndim() == 1 : a.ndim() == 2 && a.shape(1) == columns;
  if (!ok || static_cast<std::size_t>(a.shape(0)) != n)
    throw UsageError(what + ": expected " + std::to_string(n) +
                     (columns == 0 ? "" : " x " + std::to_string(columns)) + " values, not shape " +
                     shape_text(a));
  return a;
}

std::string symbol_of(std::int64_t z, const std::string& source) {
  const std::string_view symbol = element_symbol(z);
  if (symbol.empty())
    throw UsageError(source + ": species: atomic number " + std::to_string(z) +
                     " is not an element");
  return std::string(symbol);
}

void read_species(const py::handle& value, std::size_t n, Structure& s) {
  if (py::isinstance<py::str>(value))
    throw UsageError(s.source +
                     ": species: expected one symbol or atomic number per atom, not "
                     "one string");
  const auto add = [&](const std::string& symbol) { s.species.push_back(s.species_code(symbol)); };
  // Atomic numbers as an integer array (ASE's Atoms.numbers) without a Python object per atom.
  if (py::isinstance<py::array>(value)) {
    const char kind = value.cast<py::array>().dtype().kind();
    if (kind == 'i' || kind == 'u') {
      const auto z = rows<std::int64_t>(value, n, 0, s.source + ": species");
      for (std::size_t i = 0; i < n; ++i) add(symbol_of(z.data()[i], s.source));
      return;
    }
  }
  for (const py::handle item : value) {
    if (py::isinstance<py::str>(item))
      add(item.cast<std::string>());
    else
      add(symbol_of(item.cast<std::int64_t>(), s.source));
  }
  if (s.species.size() != n)
    throw UsageError(s.source + ": species: " + std::to_string(s.species.size()) + " entries for " +
                     std::to_string(n) + " atoms");
}

}  // namespace

Structure structure_from_dict(const py::dict& d) {
  Structure s;
  s.source = present(d, "source") ? d["source"].cast<std::string>() : "structure";
  if (!present(d, "positions") || !present(d, "species"))
    throw UsageError(s.source + ": positions and species are needed");
  const py::array given = py::array::ensure(d["positions"]);
  const auto n = static_cast<std::size_t>(given && given.ndim() > 0 ? given.shape(0) : 0);
  const auto positions = rows<double>(d["positions"], n, 3, s.source + ": positions");
  s.positions.assign(positions.data(), positions.data() + 3 * n);
  read_species(d["species"], n, s);
  const bool have_cell = present(d, "cell");
  if (have_cell) {
    const auto h = rows<double>(d["cell"], 3, 3, s.source + ": cell");
    std::copy(h.data(), h.data() + 9, s.cell.h.begin());
  }
  if (present(d, "origin")) {
    const auto o = rows<double>(d["origin"], 3, 0, s.source + ": origin");
    std::copy(o.data(), o.data() + 3, s.cell.origin.begin());
  }
  if (!present(d, "pbc")) {
    s.pbc = {have_cell, have_cell, have_cell};
  } else if (py::isinstance<py::bool_>(d["pbc"])) {
    const bool p = d["pbc"].cast<bool>();
    s.pbc = {p, p, p};
  } else {
    const auto p = rows<bool>(d["pbc"], 3, 0, s.source + ": pbc");
    s.pbc = {p.data()[0], p.data()[1], p.data()[2]};
  }
  if (!have_cell && (s.pbc[0] || s.pbc[1] || s.pbc[2]))
    throw UsageError(s.source + ": periodic but no cell given");
  if (present(d, "ids")) {
    const auto ids = rows<std::int64_t>(d["ids"], n, 0, s.source + ": ids");
    s.ids.assign(ids.data(), ids.data() + n);
  } else {
    for (std::size_t i = 0; i < n; ++i) s.ids.push_back(static_cast<std::int64_t>(i + 1));
  }
  if (present(d, "properties")) {
    for (const auto& [key, value] : d["properties"].cast<py::dict>()) {
      const std::string name = key.cast<std::string>();
      const py::array raw = py::array::ensure(value);
      if (!raw) throw UsageError(s.source + ": column '" + name + "': expected an array");
      const char kind = raw.dtype().kind();
      if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        throw UsageError(s.source + ": column '" + name + "': expected numbers, not dtype kind '" +
                         std::string(1, kind) + "'");
      const py::ssize_t columns = raw.ndim() == 2 ? raw.shape(1) : 0;
      const auto a = rows<double>(value, n, columns, s.source + ": column '" + name + "'");
      s.properties.push_back({name, columns == 0 ? 1 : static_cast<int>(columns), kind != 'f',
                              std::vector<double>(a.data(), a.data() + a.size()), ""});
    }
  }
  if (present(d, "info"))
    for (const auto& [key, value] : d["info"].cast<py::dict>())
      s.info.emplace_back(key.cast<std::string>(), py::str(value).cast<std::string>());
  s.validate();
  return s;
}

py::dict structure_to_dict(const Structure& s) {
  const auto n = static_cast<py::ssize_t>(s.size());
  py::dict d;
  d["source"] = s.source;
  d["positions"] = to_numpy(s.positions.data(), {n, 3});
  py::list species;
  for (const std::int32_t code : s.species)
    species.append(s.species_names[static_cast<std::size_t>(code)]);
  d["species"] = species;
  d["cell"] = to_numpy(s.cell.h.data(), {3, 3});
  d["origin"] = to_numpy(s.cell.origin.data(), {3});
  d["pbc"] = py::make_tuple(s.pbc[0], s.pbc[1], s.pbc[2]);
  d["ids"] = to_numpy(s.ids.data(), {n});
  py::dict properties;
  for (const AtomProperty& p : s.properties) {
    std::vector<py::ssize_t> shape{n};
    if (p.components > 1) shape.push_back(p.components);
    if (p.integer) {
      const std::vector<std::int64_t> values(p.values.begin(), p.values.end());
      properties[p.name.c_str()] = to_numpy(values.data(), shape);
    } else {
      properties[p.name.c_str()] = to_numpy(p.values.data(), shape);
    }
  }
  d["properties"] = properties;
  py::dict info;
  for (const auto& [key, value] : s.info) info[key.c_str()] = value;
  d["info"] = info;
  return d;
}

}  // namespace symgnn::python
