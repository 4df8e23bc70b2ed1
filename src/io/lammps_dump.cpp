// LAMMPS text dumps. A restricted triclinic box is stored as its bounding box (xlo_bound ...) plus
// the tilt factors xy xz yz; the conversions follow the LAMMPS manual (Howto_triclinic).
#include "io/lammps_dump.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>

#include "core/error.hpp"
#include "core/text.hpp"
#include "io/elements.hpp"
#include "io/symbol_codes.hpp"

namespace symgnn {

namespace {

// True for "ITEM: ..." lines; `rest` receives the text after "ITEM:", trimmed.
bool item_of(std::string_view line, std::string_view& rest) {
  line = trim(line);
  if (!line.starts_with("ITEM:")) return false;
  rest = trim(line.substr(5));
  return true;
}

// `rest` starts with the words `name` (followed by the end or a blank).
bool item_is(std::string_view rest, std::string_view name) {
  return rest.starts_with(name) &&
         (rest.size() == name.size() || rest[name.size()] == ' ' || rest[name.size()] == '\t');
}

bool valid_boundary_flag(std::string_view f) {
  if (f == "xx" || f == "yy" || f == "zz") return true;  // very old dumps: no flags known
  return f.size() == 2 && std::string_view("pfsm").find(f[0]) != std::string_view::npos &&
         std::string_view("pfsm").find(f[1]) != std::string_view::npos;
}

// Bounding-box offsets of a restricted triclinic box (Howto_triclinic). Reader and writer share
// them so that the writer can pick bounds that read back to exactly the same cell.
double x_shift_low(double xy, double xz) {
  return std::min({0.0, xy, xz, xy + xz});
}
double x_shift_high(double xy, double xz) {
  return std::max({0.0, xy, xz, xy + xz});
}

struct Column {
  enum Role { kId, kType, kElement, kCoord, kProperty, kIgnore } role;
  std::size_t index;  // coordinate component or property index
};

class DumpReader {
 public:
  DumpReader(const std::string& path, const std::vector<std::string>& type_map)
      : f_(path), type_map_(type_map) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    file_size_ = ec ? std::numeric_limits<std::uintmax_t>::max() : size;
  }

  std::vector<Structure> read_all() {
    std::vector<Structure> frames;
    std::string_view line;
    while (f_.next_line(line)) {
      if (trim(line).empty()) continue;  // blank lines between or after frames
      frames.push_back(read_frame(line, frames.size()));
    }
    if (frames.empty())
      input_error(f_.path(), 0, "no frames: the file is empty (expected 'ITEM: TIMESTEP')");
    return frames;
  }

 private:
  // The next line, or a "truncated" error naming what was expected there.
  std::string_view need_line(const std::string& expected) {
    std::string_view line;
    if (!f_.next_line(line))
      f_.fail("truncated: the file ends where " + expected + " was expected");
    return line;
  }

  // The next line, which must be "ITEM: <name>..."; returns what follows the name.
  std::string_view need_item(std::string_view name, std::string_view after) {
    const std::string want = "'ITEM: " + std::string(name) + "'";
    std::string_view line = need_line(want), rest;
    if (!item_of(line, rest) || !item_is(rest, name))
      f_.fail("expected " + want + " after " + std::string(after) + ", got '" +
              std::string(trim(line)) + "'");
    return trim(rest.substr(name.size()));
  }

  // A line holding one integer (the value of an ITEM).
  std::int64_t need_integer(std::string_view item) {
    const std::string what = "the value of 'ITEM: " + std::string(item) + "'";
    std::string_view line = need_line(what);
    split_whitespace(line, tok_);
    if (tok_.size() != 1)
      f_.fail("expected " + what + " (one integer) on this line, got '" + std::string(trim(line)) +
              "'");
    return field_int64(f_, tok_[0], item);
  }

  Structure read_frame(std::string_view line, std::size_t index) {
    Structure s;
    s.source = f_.path() + "#" + std::to_string(index);
    std::string_view rest;
    bool is_item = item_of(line, rest);
    // `dump_modify units yes` / `time yes` put these items before TIMESTEP.
    while (is_item && (rest == "UNITS" || rest == "TIME")) {
      std::string key = rest == "UNITS" ? "Units" : "Time";
      std::string_view value = trim(need_line("the value of 'ITEM: " + std::string(rest) + "'"));
      s.info.emplace_back(key, std::string(value));
      line = need_line("'ITEM: TIMESTEP'");
      is_item = item_of(line, rest);
    }
    if (!is_item || rest != "TIMESTEP") {
      std::string msg = "expected 'ITEM: TIMESTEP' to start frame " + std::to_string(index) +
                        ", got '" + std::string(trim(line)) + "'";
      if (index == 0 && !is_item) msg += " (is this a LAMMPS text dump?)";
      if (index > 0 && !is_item)
        msg += "; does 'ITEM: NUMBER OF ATOMS' of the previous frame (line " +
               std::to_string(count_line_) + ") count too few atoms?";
      f_.fail(msg);
    }
    std::int64_t step = need_integer("TIMESTEP");
    s.info.emplace_back("Timestep", std::to_string(step));

    need_item("NUMBER OF ATOMS", "the timestep");
    std::int64_t count = need_integer("NUMBER OF ATOMS");
    count_line_ = f_.line_number();
    if (count < 0) f_.fail("NUMBER OF ATOMS is " + std::to_string(count) + ", expected >= 0");
    // Every atom line takes at least two bytes: refuse absurd counts before allocating for them.
    if (static_cast<std::uintmax_t>(count) > file_size_ / 2)
      f_.fail("truncated: NUMBER OF ATOMS is " + std::to_string(count) + " but the file has only " +
              std::to_string(file_size_) + " bytes");
    read_box(need_item("BOX BOUNDS", "the number of atoms"), s);
    read_atoms(need_item("ATOMS", "the box bounds"), static_cast<std::size_t>(count), index, s);
    return s;
  }

  void read_box(std::string_view spec, Structure& s) {
    std::vector<std::string_view> words;
    split_whitespace(spec, words);
    enum { kOrthogonal, kTilted, kGeneral } kind = kOrthogonal;
    std::size_t first_flag = 0;
    if (words.size() >= 3 && words[0] == "xy" && words[1] == "xz" && words[2] == "yz") {
      kind = kTilted;
      first_flag = 3;
    } else if (words.size() >= 2 && words[0] == "abc" && words[1] == "origin") {
      kind = kGeneral;
      first_flag = 2;
    }
    const std::size_t flags = words.size() - first_flag;
    bool flags_ok = flags == 0 || flags == 3;
    for (std::size_t k = first_flag; flags_ok && k < words.size(); ++k)
      flags_ok = valid_boundary_flag(words[k]);
    if (!flags_ok)
      f_.fail("'ITEM: BOX BOUNDS " + std::string(spec) +
              "': expected optional 'xy xz yz' (or 'abc origin') and three boundary flags such "
              "as 'pp pp pp'");
    for (int k = 0; k < 3; ++k) {
      // Only "pp" is periodic; f, s and m are fixed or shrink-wrapped. Legacy xx/yy/zz: periodic.
      std::string_view w = flags == 0 ? "pp" : words[first_flag + static_cast<std::size_t>(k)];
      s.pbc[k] = w == "pp" || w == "xx" || w == "yy" || w == "zz";
    }

    static constexpr const char* kForms[3][3] = {
        {"xlo xhi", "ylo yhi", "zlo zhi"},
        {"xlo_bound xhi_bound xy", "ylo_bound yhi_bound xz", "zlo_bound zhi_bound yz"},
        {"ax ay az xlo", "bx by bz ylo", "cx cy cz zlo"}};
    const std::size_t per_line = kind == kOrthogonal ? 2 : kind == kTilted ? 3 : 4;
    double v[3][4];
    std::size_t lines[3];
    for (int k = 0; k < 3; ++k) {
      const char* form = kForms[kind][k];
      std::string_view line = need_line("the box bounds line '" + std::string(form) + "'");
      lines[k] = f_.line_number();
      split_whitespace(line, tok_);
      if (tok_.size() != per_line)
        f_.fail("box bounds: expected '" + std::string(form) + "' (" + std::to_string(per_line) +
                " numbers), got '" + std::string(trim(line)) + "'");
      for (std::size_t j = 0; j < per_line; ++j) v[k][j] = field_double(f_, tok_[j], form);
    }

    Cell& c = s.cell;
    if (kind == kGeneral) {
      for (int k = 0; k < 3; ++k) {
        for (int j = 0; j < 3; ++j) c.h[3 * k + j] = v[k][j];
        c.origin[k] = v[k][3];
      }
      if (c.is_degenerate())
        input_error(f_.path(), lines[2],
                    "box bounds: the edge vectors a, b, c span no volume (degenerate box)");
      return;
    }
    double xy = 0, xz = 0, yz = 0;
    if (kind == kTilted) {
      xy = v[0][2];
      xz = v[1][2];
      yz = v[2][2];
    }
    const double lo[3] = {v[0][0] - x_shift_low(xy, xz), v[1][0] - std::min(0.0, yz), v[2][0]};
    const double hi[3] = {v[0][1] - x_shift_high(xy, xz), v[1][1] - std::max(0.0, yz), v[2][1]};
    static constexpr const char* kAxis[3] = {"x", "y", "z"};
    for (int k = 0; k < 3; ++k)
      if (!(hi[k] > lo[k]))
        input_error(f_.path(), lines[k],
                    std::string("box bounds: ") + kAxis[k] + "hi (" + number(hi[k]) +
                        ") is not greater than " + kAxis[k] + "lo (" + number(lo[k]) +
                        "); expected a box of positive size" +
                        (kind == kTilted ? " (after removing the tilt from the bounds)" : ""));
    c.h = {hi[0] - lo[0], 0, 0, xy, hi[1] - lo[1], 0, xz, yz, hi[2] - lo[2]};
    c.origin = {lo[0], lo[1], lo[2]};
  }

  static std::string number(double v) {
    std::string s;
    append_double(s, v);
    return s;
  }

  void read_atoms(std::string_view spec, std::size_t n, std::size_t index, Structure& s) {
    std::vector<std::string_view> names;
    split_whitespace(spec, names);
    const std::string header = "'ITEM: ATOMS " + std::string(spec) + "'";
    if (names.empty())
      f_.fail("'ITEM: ATOMS' names no columns; expected names such as 'id type x y z'");
    for (std::size_t a = 0; a < names.size(); ++a)
      for (std::size_t b = a + 1; b < names.size(); ++b)
        if (names[a] == names[b])
          f_.fail(header + ": column '" + std::string(names[a]) + "' appears twice");
    auto find = [&](std::string_view name) {
      return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    };
    const std::size_t none = names.size();

    // Preference among coordinate kinds when a dump has several: x > xu > xs > xsu.
    static constexpr const char* kCoordSets[4][3] = {
        {"x", "y", "z"}, {"xu", "yu", "zu"}, {"xs", "ys", "zs"}, {"xsu", "ysu", "zsu"}};
    std::size_t coord_col[3] = {none, none, none};
    bool scaled = false;
    for (int set = 0; set < 4 && coord_col[0] == none; ++set) {
      std::size_t cols[3] = {find(kCoordSets[set][0]), find(kCoordSets[set][1]),
                             find(kCoordSets[set][2])};
      if (cols[0] == none || cols[1] == none || cols[2] == none) continue;
      std::copy(cols, cols + 3, coord_col);
      scaled = set >= 2;
    }
    if (coord_col[0] == none)
      f_.fail(header +
              " has no atom coordinates: expected columns 'x y z', 'xu yu zu', "
              "'xs ys zs' or 'xsu ysu zsu'");
    const std::size_t id_col = find("id"), type_col = find("type"), element_col = find("element");
    if (type_col == none && element_col == none)
      f_.fail(header + " has neither a 'type' nor an 'element' column; expected one of them");

    std::vector<Column> cols(names.size(), Column{Column::kProperty, 0});
    for (std::size_t k = 0; k < 3; ++k) cols[coord_col[k]] = {Column::kCoord, k};
    if (id_col != none) cols[id_col] = {Column::kId, 0};
    if (element_col != none) cols[element_col] = {Column::kElement, 0};
    if (type_col != none)  // the element column wins over the numeric type
      cols[type_col] = {element_col != none ? Column::kIgnore : Column::kType, 0};
    for (std::size_t c = 0; c < cols.size(); ++c)
      if (cols[c].role == Column::kProperty) {
        cols[c].index = s.properties.size();
        s.properties.push_back({std::string(names[c]), 1, false, std::vector<double>(n), {}});
      }

    s.positions.resize(3 * n);
    s.species.resize(n);
    s.ids.resize(n);
    std::vector<std::int32_t> type_code(type_map_.size(), -1);
    SymbolCodes symbols;
    const std::size_t atoms_line = f_.line_number();
    std::string_view line, rest;
    for (std::size_t i = 0; i < n; ++i) {
      if (!f_.next_line(line))
        f_.fail("truncated: frame " + std::to_string(index) + " declares " + std::to_string(n) +
                " atoms (line " + std::to_string(count_line_) + ") but the file ends after " +
                std::to_string(i) + " atom lines");
      split_whitespace(line, tok_);
      if (tok_.size() != cols.size()) {
        if (item_of(line, rest))
          f_.fail("expected " + std::to_string(n) + " atom lines after " + header + " (line " +
                  std::to_string(atoms_line) + ", count at line " + std::to_string(count_line_) +
                  ") but found only " + std::to_string(i) + " before this ITEM line");
        f_.fail("atom line has " + std::to_string(tok_.size()) + " fields, expected " +
                std::to_string(cols.size()) + " as in " + header + " (line " +
                std::to_string(atoms_line) + ")");
      }
      double r[3];
      for (std::size_t c = 0; c < cols.size(); ++c) {
        const std::string_view t = tok_[c];
        switch (cols[c].role) {
          case Column::kCoord:
            r[cols[c].index] = field_double(f_, t, names[c]);
            break;
          case Column::kId:
            s.ids[i] = field_int64(f_, t, "id");
            break;
          case Column::kType:
            s.species[i] = species_of_type(field_int64(f_, t, "type"), type_code, s);
            break;
          case Column::kElement:
            s.species[i] = symbols.code(f_, t, "element", s);
            break;
          case Column::kProperty:
            s.properties[cols[c].index].values[i] = field_double(f_, t, names[c]);
            break;
          case Column::kIgnore:
            break;
        }
      }
      double* p = &s.positions[3 * i];
      if (scaled) {
        const auto& h = s.cell.h;
        for (int k = 0; k < 3; ++k)
          p[k] = s.cell.origin[k] + r[0] * h[k] + r[1] * h[3 + k] + r[2] * h[6 + k];
      } else {
        p[0] = r[0];
        p[1] = r[1];
        p[2] = r[2];
      }
    }
    if (id_col == none)
      for (std::size_t i = 0; i < n; ++i) s.ids[i] = static_cast<std::int64_t>(i + 1);
  }

  std::int32_t species_of_type(std::int64_t t, std::vector<std::int32_t>& code, Structure& s) {
    if (t < 1) f_.fail("field 'type': atom type " + std::to_string(t) + " is not positive");
    const auto k = static_cast<std::size_t>(t - 1);
    if (k < code.size() && code[k] >= 0) return code[k];
    if (k >= type_map_.size() || type_map_[k].empty())
      f_.fail("atom type " + std::to_string(t) +
              " has no chemical symbol: the dump has no 'element' column, so pass --type-map "
              "with a symbol for every type (e.g. --type-map \"Cu Zr\")" +
              (type_map_.empty() ? std::string()
                                 : "; the given type map names " +
                                       std::to_string(type_map_.size()) + " type(s)"));
    if (!is_element_symbol(type_map_[k]))
      f_.fail("atom type " + std::to_string(t) + ": the type map names it '" + type_map_[k] +
              "', which is not a chemical element symbol");
    return code[k] = s.species_code(type_map_[k]);
  }

  TextFile f_;
  const std::vector<std::string>& type_map_;
  std::uintmax_t file_size_;
  std::vector<std::string_view> tok_;
  std::size_t count_line_ = 0;  // line of the last NUMBER OF ATOMS value
};

// The double next to `guess` for which `read(x) == target`, so that a reader evaluating `read`
// gets `target` back bit for bit; `guess` itself when no nearby double does.
template <typename F>
double invert_near(double guess, double target, F read) {
  if (read(guess) == target) return guess;
  double up = guess, down = guess;
  for (int k = 0; k < 64; ++k) {
    up = std::nextafter(up, std::numeric_limits<double>::infinity());
    if (read(up) == target) return up;
    down = std::nextafter(down, -std::numeric_limits<double>::infinity());
    if (read(down) == target) return down;
  }
  return guess;
}

void append_numbers(std::string& out, std::initializer_list<double> values) {
  bool first = true;
  for (double v : values) {
    if (!first) out += ' ';
    first = false;
    append_double(out, v);
  }
  out += '\n';
}

void format_box(const Structure& s, std::string& out) {
  Cell c = s.cell;
  const bool periodic = s.pbc[0] || s.pbc[1] || s.pbc[2];
  if (c.is_degenerate()) {
    if (periodic)
      throw Error(s.source +
                  ": cannot write a LAMMPS dump: the cell is degenerate but the "
                  "structure is periodic");
    // No cell (e.g. a molecule): LAMMPS needs a box, so use the atoms' bounding box.
    std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};
    for (std::size_t i = 0; i < s.size(); ++i)
      for (int k = 0; k < 3; ++k) {
        double x = s.positions[3 * i + static_cast<std::size_t>(k)];
        lo[k] = i == 0 ? x : std::min(lo[k], x);
        hi[k] = i == 0 ? x : std::max(hi[k], x);
      }
    c = Cell::orthogonal(std::max(hi[0] - lo[0], 1.0), std::max(hi[1] - lo[1], 1.0),
                         std::max(hi[2] - lo[2], 1.0));
    c.origin = lo;
  }
  const auto& h = c.h;
  const double tol = 1e-12 * std::max({c.length(0), c.length(1), c.length(2)});
  if (std::abs(h[1]) > tol || std::abs(h[2]) > tol || std::abs(h[5]) > tol || !(h[0] > 0) ||
      !(h[4] > 0) || !(h[8] > 0))
    throw Error(s.source +
                ": cannot write a LAMMPS dump: the cell is not in LAMMPS's restricted triclinic "
                "form (a along +x, b in the xy plane with b_y > 0, c with c_z > 0); rotate the "
                "structure first");
  const double xy = h[3], xz = h[6], yz = h[7];
  const auto& o = c.origin;
  const bool tilted = xy != 0 || xz != 0 || yz != 0;
  out += tilted ? "ITEM: BOX BOUNDS xy xz yz" : "ITEM: BOX BOUNDS";
  for (int k = 0; k < 3; ++k) out += s.pbc[k] ? " pp" : " ff";
  out += '\n';
  // Bounds chosen so that the reader's subtractions give back h and origin exactly.
  const double zhi = invert_near(o[2] + h[8], h[8], [&](double x) { return x - o[2]; });
  if (!tilted) {
    append_numbers(out, {o[0], invert_near(o[0] + h[0], h[0], [&](double x) { return x - o[0]; })});
    append_numbers(out, {o[1], invert_near(o[1] + h[4], h[4], [&](double x) { return x - o[1]; })});
    append_numbers(out, {o[2], zhi});
    return;
  }
  const double dxlo = x_shift_low(xy, xz), dxhi = x_shift_high(xy, xz);
  const double dylo = std::min(0.0, yz), dyhi = std::max(0.0, yz);
  const double xlo_b = invert_near(o[0] + dxlo, o[0], [&](double x) { return x - dxlo; });
  const double xlo = xlo_b - dxlo;
  const double xhi_b =
      invert_near(xlo + h[0] + dxhi, h[0], [&](double x) { return (x - dxhi) - xlo; });
  const double ylo_b = invert_near(o[1] + dylo, o[1], [&](double x) { return x - dylo; });
  const double ylo = ylo_b - dylo;
  const double yhi_b =
      invert_near(ylo + h[4] + dyhi, h[4], [&](double x) { return (x - dyhi) - ylo; });
  append_numbers(out, {xlo_b, xhi_b, xy});
  append_numbers(out, {ylo_b, yhi_b, xz});
  append_numbers(out, {o[2], zhi, yz});
}

}  // namespace

std::vector<Structure> read_lammps_dump(const std::string& path,
                                        const std::vector<std::string>& type_map) {
  return DumpReader(path, type_map).read_all();
}

void format_lammps_dump(const std::vector<Structure>& frames, std::string& out) {
  for (std::size_t index = 0; index < frames.size(); ++index) {
    const Structure& s = frames[index];
    const std::size_t n = s.size();

    // LAMMPS has no vector columns: a property with k components becomes columns name_1..name_k.
    std::vector<std::string> columns = {"id", "type", "element", "x", "y", "z"};
    for (const auto& p : s.properties) {
      if (p.name.empty() || p.name.find_first_of(" \t\n") != std::string::npos)
        throw Error(s.source + ": cannot write property '" + p.name +
                    "' to a LAMMPS dump: column names must be non-empty without blanks");
      for (int k = 0; k < p.components; ++k) {
        std::string name = p.components == 1 ? p.name : p.name + "_" + std::to_string(k + 1);
        if (std::find(columns.begin(), columns.end(), name) != columns.end())
          throw Error(s.source + ": cannot write property '" + p.name +
                      "' to a LAMMPS dump: its column name '" + name + "' is already taken");
        columns.push_back(std::move(name));
      }
    }

    std::string step = std::to_string(index);
    for (const auto& [key, value] : s.info) {
      std::int64_t t;
      if (key == "Timestep" && parse_int64(trim(value), t)) step = std::to_string(t);
    }
    out += "ITEM: TIMESTEP\n" + step + "\nITEM: NUMBER OF ATOMS\n";
    append_int64(out, static_cast<std::int64_t>(n));
    out += '\n';
    format_box(s, out);
    out += "ITEM: ATOMS";
    for (const auto& c : columns) out += " " + c;
    out += '\n';
    for (std::size_t i = 0; i < n; ++i) {
      append_int64(out, s.ids[i]);
      out += ' ';
      append_int64(out, s.species[i] + 1);
      out += ' ';
      out += s.species_names[static_cast<std::size_t>(s.species[i])];
      for (int k = 0; k < 3; ++k) {
        out += ' ';
        append_double(out, s.positions[3 * i + static_cast<std::size_t>(k)]);
      }
      for (const auto& p : s.properties)
        for (int k = 0; k < p.components; ++k) {
          const double v =
              p.values[i * static_cast<std::size_t>(p.components) + static_cast<std::size_t>(k)];
          out += ' ';
          if (p.integer)
            append_int64(out, static_cast<std::int64_t>(std::llround(v)));
          else
            append_double(out, v);
        }
      out += '\n';
    }
  }
}

}  // namespace symgnn
