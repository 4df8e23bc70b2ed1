#include "io/extxyz.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "core/error.hpp"
#include "core/text.hpp"
#include "io/elements.hpp"
#include "io/symbol_codes.hpp"

namespace symgnn {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Splits the comment line into key=value pairs; values may be quoted with "" or {}.
std::vector<std::pair<std::string, std::string>> parse_comment(const TextFile& f,
                                                               std::string_view s) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  while (true) {
    skip_ws();
    if (i >= s.size()) break;
    std::size_t k0 = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string key(s.substr(k0, i - k0));
    skip_ws();
    if (i >= s.size() || s[i] != '=') {  // a bare key is a flag
      kv.emplace_back(key, "T");
      continue;
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < s.size() && (s[i] == '"' || s[i] == '{')) {
      char close = s[i] == '"' ? '"' : '}';
      std::size_t end = s.find(close, i + 1);
      if (end == std::string_view::npos)
        f.fail("comment line: value of '" + key + "' opens with " + std::string(1, s[i]) +
               " but is never closed");
      value = std::string(s.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      std::size_t v0 = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      value = std::string(s.substr(v0, i - v0));
    }
    kv.emplace_back(key, value);
  }
  return kv;
}

bool parse_bool(std::string_view t, bool& v) {
  if (t == "T" || t == "True" || t == "true" || t == "1") return v = true, true;
  if (t == "F" || t == "False" || t == "false" || t == "0") return v = false, true;
  return false;
}

struct Column {
  enum Role { kSpecies, kAtomicNumber, kPosition, kId, kProperty, kSkip } role;
  char type;
  int count;
  std::size_t property;  // index into Structure::properties for kProperty
  std::string name;
};

std::vector<Column> parse_properties(const TextFile& f, const std::string& spec, Structure& s) {
  std::vector<std::string_view> parts;
  std::string_view rest(spec);
  while (true) {
    auto c = rest.find(':');
    parts.push_back(rest.substr(0, c));
    if (c == std::string_view::npos) break;
    rest.remove_prefix(c + 1);
  }
  if (parts.size() % 3 != 0)
    f.fail("comment line: Properties='" + spec + "' is not a list of NAME:TYPE:COUNT triples");
  std::vector<Column> cols;
  bool have_species = false;
  for (std::size_t p = 0; p < parts.size(); p += 3) {
    std::string name(parts[p]);
    std::int64_t count;
    if (parts[p + 1].size() != 1 ||
        std::string_view("SRIL").find(parts[p + 1][0]) == std::string_view::npos)
      f.fail("comment line: Properties: column '" + name + "' has type '" +
             std::string(parts[p + 1]) + "', expected S, R, I or L");
    if (!parse_int64(parts[p + 2], count) || count < 1 || count > 1000)
      f.fail("comment line: Properties: column '" + name + "' has count '" +
             std::string(parts[p + 2]) + "', expected a positive integer");
    char type = parts[p + 1][0];
    Column col{Column::kSkip, type, static_cast<int>(count), 0, name};
    if (name == "species" && type == 'S' && count == 1) {
      col.role = Column::kSpecies;
      have_species = true;
    } else if ((name == "pos" || name == "positions") && type == 'R' && count == 3) {
      col.role = Column::kPosition;
    } else if (name == "id" && type == 'I' && count == 1) {
      col.role = Column::kId;
    } else if (name == "Z" && type == 'I' && count == 1) {
      col.role = Column::kAtomicNumber;
    } else if (type != 'S') {
      col.role = Column::kProperty;
      col.property = s.properties.size();
      s.properties.push_back({name, col.count, type != 'R', {}, {}});
    }
    cols.push_back(col);
  }
  if (have_species)
    for (auto& c : cols)
      if (c.role == Column::kAtomicNumber) {  // species wins; keep Z as an ordinary column
        c.role = Column::kProperty;
        c.property = s.properties.size();
        s.properties.push_back({c.name, 1, true, {}, {}});
      }
  bool has_pos = std::any_of(cols.begin(), cols.end(),
                             [](const Column& c) { return c.role == Column::kPosition; });
  bool has_species = std::any_of(cols.begin(), cols.end(), [](const Column& c) {
    return c.role == Column::kSpecies || c.role == Column::kAtomicNumber;
  });
  if (!has_pos) f.fail("comment line: Properties='" + spec + "' has no 'pos:R:3' column");
  if (!has_species)
    f.fail("comment line: Properties='" + spec + "' has no 'species:S:1' (or 'Z:I:1') column");
  return cols;
}

}  // namespace

std::vector<Structure> read_extxyz(const std::string& path) {
  TextFile f(path);
  std::vector<Structure> frames;
  std::string_view line;
  std::vector<std::string_view> tok;
  while (f.next_line(line)) {
    if (trim(line).empty()) continue;  // blank lines between or after frames
    split_whitespace(line, tok);
    std::int64_t n;
    if (tok.size() != 1 || !parse_int64(tok[0], n) || n < 0)
      f.fail("expected the number of atoms of frame " + std::to_string(frames.size()) +
             " (a non-negative integer alone on its line), got '" + std::string(trim(line)) + "'");
    const std::size_t count_line = f.line_number();
    if (!f.next_line(line)) f.fail("truncated: the comment line of the frame is missing");

    Structure s;
    s.source = path + "#" + std::to_string(frames.size());
    std::string properties = "species:S:1:pos:R:3";
    bool have_lattice = false, have_pbc = false;
    for (auto& [key, value] : parse_comment(f, line)) {
      if (iequals(key, "Lattice")) {
        split_whitespace(value, tok);
        if (tok.size() != 9)
          f.fail("comment line: Lattice has " + std::to_string(tok.size()) +
                 " numbers, expected 9 (three lattice vectors)");
        for (int k = 0; k < 9; ++k) s.cell.h[k] = field_double(f, tok[k], "Lattice");
        have_lattice = true;
      } else if (iequals(key, "Origin")) {
        split_whitespace(value, tok);
        if (tok.size() != 3)
          f.fail("comment line: Origin has " + std::to_string(tok.size()) + " numbers, expected 3");
        for (int k = 0; k < 3; ++k) s.cell.origin[k] = field_double(f, tok[k], "Origin");
      } else if (iequals(key, "pbc")) {
        split_whitespace(value, tok);
        if (tok.size() != 3) f.fail("comment line: pbc='" + value + "', expected three of T/F");
        for (int k = 0; k < 3; ++k)
          if (!parse_bool(tok[k], s.pbc[k]))
            f.fail("comment line: pbc='" + value + "', expected three of T/F");
        have_pbc = true;
      } else if (iequals(key, "Properties")) {
        properties = value;
      } else {
        s.info.emplace_back(key, value);
      }
    }
    if (!have_pbc) s.pbc = {have_lattice, have_lattice, have_lattice};  // ASE's default
    if (!have_lattice && (s.pbc[0] || s.pbc[1] || s.pbc[2]))
      f.fail("comment line: pbc is set but there is no Lattice");
    if (have_lattice && (s.pbc[0] || s.pbc[1] || s.pbc[2]) && s.cell.is_degenerate())
      f.fail("comment line: Lattice is degenerate (its vectors span no volume)");
    const std::vector<Column> cols = parse_properties(f, properties, s);
    std::size_t ncols = 0;
    std::string names;
    for (const auto& c : cols) {
      ncols += static_cast<std::size_t>(c.count);
      names += (names.empty() ? "" : " ") + c.name +
               (c.count > 1 ? "[" + std::to_string(c.count) + "]" : "");
    }

    // Every value takes a character and a separator: a count the rest of the file cannot hold
    // is refused before anything that size is allocated.
    const auto atoms = static_cast<std::size_t>(n);
    if (atoms > f.bytes_left() / (2 * ncols))
      f.fail("truncated: frame " + std::to_string(frames.size()) + " (count at line " +
             std::to_string(count_line) + ") declares " + std::to_string(atoms) + " atoms of " +
             std::to_string(ncols) + " values, but only " + std::to_string(f.bytes_left()) +
             " bytes follow; is the atom count too large?");
    s.positions.resize(3 * atoms);
    s.species.resize(atoms);
    s.ids.resize(atoms);
    bool have_ids = false;
    for (auto& p : s.properties) p.values.resize(atoms * static_cast<std::size_t>(p.components));
    SymbolCodes symbols;
    for (std::size_t i = 0; i < atoms; ++i) {
      if (!f.next_line(line))
        f.fail("truncated: frame " + std::to_string(frames.size()) + " (count at line " +
               std::to_string(count_line) + ") declares " + std::to_string(atoms) +
               " atoms but the file ends after " + std::to_string(i));
      split_whitespace(line, tok);
      if (tok.size() != ncols)
        f.fail("atom line has " + std::to_string(tok.size()) + " fields, expected " +
               std::to_string(ncols) + " (" + names + ")" +
               (tok.size() == 1
                    ? "; is the atom count at line " + std::to_string(count_line) + " too large?"
                    : ""));
      std::size_t t = 0;
      for (const auto& c : cols) {
        switch (c.role) {
          case Column::kSpecies:
            s.species[i] = symbols.code(f, tok[t], "species", s);
            break;
          case Column::kAtomicNumber: {
            std::int64_t z = field_int64(f, tok[t], c.name);
            std::string_view sym = element_symbol(z);
            if (sym.empty())
              f.fail("field 'Z': " + std::to_string(z) + " is not an atomic number (1-118)");
            s.species[i] = s.species_code(std::string(sym));
            break;
          }
          case Column::kPosition:
            for (int k = 0; k < 3; ++k) s.positions[3 * i + k] = field_double(f, tok[t + k], "pos");
            break;
          case Column::kId:
            s.ids[i] = field_int64(f, tok[t], "id");
            have_ids = true;
            break;
          case Column::kProperty: {
            auto& p = s.properties[c.property];
            for (int k = 0; k < c.count; ++k) {
              double v;
              bool b;
              if (c.type == 'L') {
                if (!parse_bool(tok[t + k], b))
                  f.fail("field '" + c.name + "': expected T or F, got '" +
                         std::string(tok[t + k]) + "'");
                v = b ? 1.0 : 0.0;
              } else if (c.type == 'I') {
                v = static_cast<double>(field_int64(f, tok[t + k], c.name));
              } else {
                v = field_double(f, tok[t + k], c.name);
              }
              p.values[i * static_cast<std::size_t>(c.count) + static_cast<std::size_t>(k)] = v;
            }
            break;
          }
          case Column::kSkip:
            break;
        }
        t += static_cast<std::size_t>(c.count);
      }
    }
    if (!have_ids)
      for (std::size_t i = 0; i < atoms; ++i) s.ids[i] = static_cast<std::int64_t>(i + 1);
    if (!have_lattice) s.cell = Cell{};
    frames.push_back(std::move(s));
  }
  if (frames.empty()) input_error(path, 0, "no frames: the file is empty");
  return frames;
}

void format_extxyz(const std::vector<Structure>& frames, std::string& out) {
  for (const auto& s : frames) {
    format_extxyz_header(s, static_cast<std::int64_t>(s.size()), out);
    format_extxyz_atoms(s, out);
  }
}

void format_extxyz_header(const Structure& s, std::int64_t atoms, std::string& out) {
  append_int64(out, atoms);
  out += '\n';
  bool periodic = s.pbc[0] || s.pbc[1] || s.pbc[2];
  if (periodic || !s.cell.is_degenerate()) {
    out += "Lattice=\"";
    for (int k = 0; k < 9; ++k) {
      if (k) out += ' ';
      append_double(out, s.cell.h[k]);
    }
    out += "\" ";
    if (s.cell.origin != std::array<double, 3>{0, 0, 0}) {
      out += "Origin=\"";
      for (int k = 0; k < 3; ++k) {
        if (k) out += ' ';
        append_double(out, s.cell.origin[k]);
      }
      out += "\" ";
    }
  }
  out += "Properties=species:S:1:pos:R:3:id:I:1";
  for (const auto& p : s.properties)
    out += ":" + p.name + (p.integer ? ":I:" : ":R:") + std::to_string(p.components);
  out += " pbc=\"";
  for (int k = 0; k < 3; ++k) out += std::string(k ? " " : "") + (s.pbc[k] ? "T" : "F");
  out += '"';
  for (const auto& [key, value] : s.info) {
    if (key == "Origin") continue;
    std::string v = value;
    std::replace(v.begin(), v.end(), '"', '\'');
    bool quote = v.empty() || v.find_first_of(" \t") != std::string::npos;
    out += " " + key + "=" + (quote ? "\"" + v + "\"" : v);
  }
  out += '\n';
}

void format_extxyz_atoms(const Structure& s, std::string& out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    out += s.species_names[static_cast<std::size_t>(s.species[i])];
    for (int k = 0; k < 3; ++k) {
      out += ' ';
      append_double(out, s.positions[3 * i + k]);
    }
    out += ' ';
    append_int64(out, s.ids[i]);
    for (const auto& p : s.properties)
      for (int k = 0; k < p.components; ++k) {
        double v =
            p.values[i * static_cast<std::size_t>(p.components) + static_cast<std::size_t>(k)];
        out += ' ';
        if (p.integer)
          append_int64(out, static_cast<std::int64_t>(v));
        else
          append_double(out, v);
      }
    out += '\n';
  }
}

}  // namespace symgnn
