// LAMMPS data files (read_data), atom style atomic. The header is a comment line and then
// "<numbers> <keyword>" lines; sections (Masses, Atoms, ...) follow, each introduced by its name.
#include "io/lammps_data.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <optional>

#include "core/error.hpp"
#include "core/text.hpp"
#include "io/elements.hpp"

namespace symgnn {

namespace {

// Section names LAMMPS's read_data knows; any other non-numeric line is an error.
constexpr std::string_view kSections[] = {"Atoms",
                                          "Velocities",
                                          "Masses",
                                          "Ellipsoids",
                                          "Lines",
                                          "Triangles",
                                          "Bodies",
                                          "Bonds",
                                          "Angles",
                                          "Dihedrals",
                                          "Impropers",
                                          "Pair Coeffs",
                                          "PairIJ Coeffs",
                                          "Bond Coeffs",
                                          "Angle Coeffs",
                                          "Dihedral Coeffs",
                                          "Improper Coeffs",
                                          "BondBond Coeffs",
                                          "BondAngle Coeffs",
                                          "MiddleBondTorsion Coeffs",
                                          "EndBondTorsion Coeffs",
                                          "AngleTorsion Coeffs",
                                          "AngleAngleTorsion Coeffs",
                                          "BondBond13 Coeffs",
                                          "AngleAngle Coeffs",
                                          "Atom Type Labels",
                                          "Bond Type Labels",
                                          "Angle Type Labels",
                                          "Dihedral Type Labels",
                                          "Improper Type Labels"};

struct Line {
  std::string_view body;     // without the comment, trimmed
  std::string_view comment;  // after '#', trimmed
};

Line split_comment(std::string_view line) {
  auto hash = line.find('#');
  if (hash == std::string_view::npos) return {trim(line), {}};
  return {trim(line.substr(0, hash)), trim(line.substr(hash + 1))};
}

bool is_section(std::string_view body) {
  return std::find(std::begin(kSections), std::end(kSections), body) != std::end(kSections);
}

std::string first_word(std::string_view s) {
  s = trim(s);
  return std::string(s.substr(0, s.find_first_of(" \t")));
}

class DataReader {
 public:
  DataReader(const std::string& path, const std::vector<std::string>& type_map)
      : f_(path), type_map_(type_map) {}

  Structure read() {
    std::string_view line;
    if (!f_.next_line(line))
      input_error(f_.path(), 0,
                  "the file is empty; expected a LAMMPS data file (a comment line, then the "
                  "header)");
    bool more = read_header();
    while (more) more = read_section();
    return finish();
  }

 private:
  // Header lines up to the first section name; false if the file has no sections.
  bool read_header() {
    std::string_view line;
    while (f_.next_line(line)) {
      Line l = split_comment(line);
      if (l.body.empty()) continue;
      split_whitespace(l.body, tok_);
      double number;
      if (!parse_double(tok_[0], number)) {
        if (!is_section(l.body))
          f_.fail(
              "expected a header line such as '8000 atoms' or a section name such as "
              "'Atoms', got '" +
              std::string(l.body) + "'");
        start_section(l);
        return true;
      }
      header_line(l.body);
    }
    return false;
  }

  void header_line(std::string_view body) {
    std::size_t nums = 0;
    double number;
    while (nums < tok_.size() && parse_double(tok_[nums], number)) ++nums;
    std::string keyword;
    for (std::size_t k = nums; k < tok_.size(); ++k)
      keyword += (k > nums ? " " : "") + std::string(tok_[k]);
    auto numbers = [&](std::size_t want) {
      if (nums != want)
        f_.fail("header line '" + std::string(body) + "': expected " + std::to_string(want) +
                " number(s) before '" + keyword + "'");
    };
    const std::size_t here = f_.line_number();
    if (keyword == "atoms") {
      numbers(1);
      natoms_ = field_int64(f_, tok_[0], "atoms");
      if (*natoms_ < 0) f_.fail("the number of atoms is negative");
      atoms_line_ = here;
    } else if (keyword == "atom types") {
      numbers(1);
      ntypes_ = field_int64(f_, tok_[0], "atom types");
      if (ntypes_ < 0 || ntypes_ > 100000)
        f_.fail("the number of atom types is " + std::to_string(ntypes_) +
                ", expected 0 to 100000");
      types_line_ = here;
    } else if (keyword == "xlo xhi" || keyword == "ylo yhi" || keyword == "zlo zhi") {
      numbers(2);
      const int k = keyword[0] - 'x';
      lo_[k] = field_double(f_, tok_[0], keyword.substr(0, 3));
      hi_[k] = field_double(f_, tok_[1], keyword.substr(4, 3));
      bounds_line_[k] = here;
      restricted_ = true;
    } else if (keyword == "xy xz yz") {
      numbers(3);
      for (int k = 0; k < 3; ++k) tilt_[k] = field_double(f_, tok_[k], "xy xz yz");
      restricted_ = true;
    } else if (keyword == "avec" || keyword == "bvec" || keyword == "cvec" ||
               keyword == "abc origin") {  // general triclinic (LAMMPS 2024 and later)
      numbers(3);
      const int k = keyword == "abc origin" ? 3 : keyword[0] - 'a';
      for (int j = 0; j < 3; ++j) general_[k][j] = field_double(f_, tok_[j], keyword);
      general_seen_[k] = true;
      general_line_ = here;
    }
    // Other keywords (bonds, angles, extra ... per atom, ...) do not matter for atom style atomic.
  }

  void start_section(const Line& l) {
    section_ = std::string(l.body);
    section_comment_ = std::string(l.comment);
    section_line_ = f_.line_number();
  }

  // Reads the body of the current section; true if another section follows.
  bool read_section() {
    const std::string name = section_;
    if (name == "Atoms") begin_atoms();
    bool more = false;
    std::string_view line;
    while (f_.next_line(line)) {
      Line l = split_comment(line);
      if (l.body.empty()) continue;
      if (is_section(l.body)) {
        start_section(l);
        more = true;
        break;
      }
      split_whitespace(l.body, tok_);
      if (name == "Atoms")
        atom_line();
      else if (name == "Masses")
        mass_line(l.comment);
      else if (name == "Atom Type Labels")
        label_line();
    }
    if (name == "Atoms" && atom_lines_ != static_cast<std::size_t>(*natoms_))
      input_error(f_.path(), section_start_,
                  "the Atoms section has " + std::to_string(atom_lines_) +
                      " atom lines, expected " + std::to_string(*natoms_) + " ('atoms' at line " +
                      std::to_string(atoms_line_) + ")");
    return more;
  }

  void begin_atoms() {
    if (have_atoms_)
      f_.fail("a second Atoms section (the first is at line " + std::to_string(section_start_) +
              ")");
    have_atoms_ = true;
    section_start_ = section_line_;
    if (!natoms_)
      f_.fail(
          "Atoms section, but the header has no atom count (expected a line such as "
          "'8000 atoms')");
    std::string style = first_word(section_comment_);
    if (!style.empty() && style != "atomic")
      f_.fail("the Atoms section is in atom style '" + style +
              "'; only atom style atomic ('id type x y z [ix iy iz]') is supported");
    // Reserve no more than a plausible count: the header may claim far more atoms than exist.
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(*natoms_), 1u << 24);
    positions_.reserve(3 * n);
    images_.reserve(3 * n);
    ids_.reserve(n);
    types_.reserve(n);
    lines_.reserve(n);
  }

  void atom_line() {
    if (atom_lines_ == static_cast<std::size_t>(*natoms_))
      f_.fail("the Atoms section has more lines than the " + std::to_string(*natoms_) +
              " atoms declared at line " + std::to_string(atoms_line_));
    if (tok_.size() != 5 && tok_.size() != 8)
      f_.fail("atom line has " + std::to_string(tok_.size()) +
              " fields, expected 'id type x y z' or 'id type x y z ix iy iz' (atom style "
              "atomic)");
    const std::int64_t id = field_int64(f_, tok_[0], "id");
    if (id < 1) f_.fail("field 'id': atom id " + std::to_string(id) + " is not positive");
    const std::int64_t type = parse_type(tok_[1]);
    double r[3];
    static constexpr const char* kCoord[3] = {"x", "y", "z"};
    static constexpr const char* kImage[3] = {"ix", "iy", "iz"};
    for (std::size_t k = 0; k < 3; ++k) r[k] = field_double(f_, tok_[2 + k], kCoord[k]);
    for (std::size_t k = 0; k < 3; ++k)
      images_.push_back(tok_.size() == 8 ? field_int64(f_, tok_[5 + k], kImage[k]) : 0);
    positions_.insert(positions_.end(), r, r + 3);
    ids_.push_back(id);
    types_.push_back(static_cast<std::int32_t>(type));
    lines_.push_back(f_.line_number());
    ++atom_lines_;
  }

  // A numeric type, or a type label defined in "Atom Type Labels".
  std::int64_t parse_type(std::string_view token) {
    std::int64_t type;
    if (!parse_int64(token, type)) {
      auto it = std::find(labels_.begin(), labels_.end(), token);
      if (it == labels_.end())
        f_.fail("field 'type': expected an atom type (integer), got '" + std::string(token) + "'");
      type = (it - labels_.begin()) + 1;
    }
    if (ntypes_ == 0)
      f_.fail(
          "field 'type': the header declares no atom types (expected a line such as "
          "'2 atom types' before the sections)");
    if (type < 1 || type > ntypes_)
      f_.fail("field 'type': atom type " + std::to_string(type) +
              " is out of range: expected 1 to " + std::to_string(ntypes_) +
              " ('atom types' at line " + std::to_string(types_line_) + ")");
    return type;
  }

  void mass_line(std::string_view comment) {
    if (tok_.size() != 2)
      f_.fail("Masses line has " + std::to_string(tok_.size()) +
              " fields, expected 'type mass' (optionally followed by '# Symbol')");
    const auto type = static_cast<std::size_t>(parse_type(tok_[0]));
    field_double(f_, tok_[1], "mass");
    if (mass_symbols_.size() < type) mass_symbols_.resize(type);
    mass_symbols_[type - 1] = first_word(comment);
  }

  void label_line() {
    if (tok_.size() != 2) f_.fail("Atom Type Labels line: expected 'type label'");
    const std::int64_t type = field_int64(f_, tok_[0], "type");
    if (type < 1 || type > ntypes_)
      f_.fail("Atom Type Labels: type " + std::to_string(type) +
              " is out of range: expected 1 to " + std::to_string(ntypes_));
    if (labels_.size() < static_cast<std::size_t>(type))
      labels_.resize(static_cast<std::size_t>(type));
    labels_[static_cast<std::size_t>(type - 1)] = std::string(tok_[1]);
  }

  Cell make_cell() const {
    Cell c;
    const bool general =
        general_seen_[0] || general_seen_[1] || general_seen_[2] || general_seen_[3];
    if (general) {
      if (restricted_)
        input_error(f_.path(), general_line_,
                    "the header mixes 'avec bvec cvec abc origin' with 'xlo xhi' or 'xy xz yz'; "
                    "expected one box form");
      if (!(general_seen_[0] && general_seen_[1] && general_seen_[2] && general_seen_[3]))
        input_error(f_.path(), general_line_,
                    "a general triclinic box needs all of 'avec', 'bvec', 'cvec' and 'abc origin'");
      for (int k = 0; k < 3; ++k)
        for (int j = 0; j < 3; ++j) c.h[3 * k + j] = general_[k][j];
      c.origin = general_[3];
      if (c.is_degenerate())
        input_error(f_.path(), general_line_,
                    "the box vectors avec, bvec, cvec span no volume (degenerate box)");
      return c;
    }
    static constexpr const char* kAxis[3] = {"x", "y", "z"};
    for (int k = 0; k < 3; ++k)
      if (bounds_line_[k] == 0)  // LAMMPS would take -0.5 0.5: a 1 Å box no glass has
        input_error(f_.path(), 0,
                    std::string("the header has no '") + kAxis[k] + "lo " + kAxis[k] +
                        "hi' line: expected the box bounds, e.g. '0.0 52.4 " + kAxis[k] + "lo " +
                        kAxis[k] + "hi'");
    for (int k = 0; k < 3; ++k)
      if (!(hi_[k] > lo_[k])) {
        std::string lo, hi;
        append_double(lo, lo_[k]);
        append_double(hi, hi_[k]);
        input_error(f_.path(), bounds_line_[k],
                    std::string("degenerate box: ") + kAxis[k] + "hi (" + hi +
                        ") is not greater than " + kAxis[k] + "lo (" + lo + ")");
      }
    c.h = {hi_[0] - lo_[0], 0, 0, tilt_[0], hi_[1] - lo_[1], 0, tilt_[1], tilt_[2],
           hi_[2] - lo_[2]};
    c.origin = lo_;
    return c;
  }

  // Chemical symbol of each type: --type-map, else the Masses comments, else element-named labels.
  std::vector<std::string> type_symbols() const {
    std::vector<std::string> symbols(static_cast<std::size_t>(ntypes_));
    for (std::size_t t = 0; t < symbols.size(); ++t) {
      if (!type_map_.empty()) {
        if (t < type_map_.size()) symbols[t] = type_map_[t];
      } else if (t < mass_symbols_.size() && is_element_symbol(mass_symbols_[t])) {
        symbols[t] = mass_symbols_[t];
      } else if (t < labels_.size() && is_element_symbol(labels_[t])) {
        symbols[t] = labels_[t];
      }
    }
    return symbols;
  }

  Structure finish() {
    if (natoms_.value_or(0) > 0 && !have_atoms_)
      input_error(f_.path(), 0,
                  "no Atoms section, but the header declares " + std::to_string(*natoms_) +
                      " atoms (line " + std::to_string(atoms_line_) + ")");
    Structure s;
    s.source = f_.path();
    s.cell = make_cell();
    s.pbc = {true, true, true};
    const std::size_t n = ids_.size();

    // Duplicate ids: sort a permutation so the error can name both lines.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return ids_[a] != ids_[b] ? ids_[a] < ids_[b] : a < b;
    });
    for (std::size_t k = 1; k < n; ++k)
      if (ids_[order[k]] == ids_[order[k - 1]])
        input_error(f_.path(), lines_[order[k]],
                    "duplicate atom id " + std::to_string(ids_[order[k]]) + " (also at line " +
                        std::to_string(lines_[order[k - 1]]) + "); expected unique ids");

    const std::vector<std::string> symbols = type_symbols();
    std::vector<std::int32_t> code(symbols.size(), -1);
    s.species.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto t = static_cast<std::size_t>(types_[i] - 1);
      if (code[t] < 0) {
        if (symbols[t].empty()) {
          std::string why =
              !type_map_.empty()
                  ? (t < type_map_.size() ? std::string("the type map gives it no symbol")
                                          : "the type map names only " +
                                                std::to_string(type_map_.size()) + " type(s)")
              : t < mass_symbols_.size() && !mass_symbols_[t].empty()
                  ? "its Masses comment '" + mass_symbols_[t] + "' is not a chemical element"
                  : "the Masses section has no '# Symbol' comment for it";
          input_error(f_.path(), lines_[i],
                      "atom type " + std::to_string(t + 1) + " has no chemical symbol (" + why +
                          "); pass --type-map with a symbol for every type (e.g. --type-map "
                          "\"Cu Zr\") or write '1 63.546 # Cu' lines in Masses");
        }
        if (!is_element_symbol(symbols[t]))
          input_error(f_.path(), lines_[i],
                      "atom type " + std::to_string(t + 1) + ": the type map names it '" +
                          symbols[t] + "', which is not a chemical element symbol");
        code[t] = s.species_code(symbols[t]);
      }
      s.species[i] = code[t];
    }

    s.positions = std::move(positions_);
    const auto& h = s.cell.h;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t* im = &images_[3 * i];
      if (im[0] == 0 && im[1] == 0 && im[2] == 0) continue;  // keep unshifted positions exact
      for (int k = 0; k < 3; ++k)
        s.positions[3 * i + static_cast<std::size_t>(k)] += static_cast<double>(im[0]) * h[k] +
                                                            static_cast<double>(im[1]) * h[3 + k] +
                                                            static_cast<double>(im[2]) * h[6 + k];
    }
    s.ids = std::move(ids_);
    return s;
  }

  TextFile f_;
  const std::vector<std::string>& type_map_;
  std::vector<std::string_view> tok_;

  std::optional<std::int64_t> natoms_;
  std::int64_t ntypes_ = 0;
  std::size_t atoms_line_ = 0, types_line_ = 0;
  std::array<double, 3> lo_{-0.5, -0.5, -0.5}, hi_{0.5, 0.5, 0.5};  // LAMMPS's defaults
  std::array<double, 3> tilt_{0, 0, 0};
  std::array<std::size_t, 3> bounds_line_{0, 0, 0};
  bool restricted_ = false;
  std::array<std::array<double, 3>, 4> general_{};  // avec, bvec, cvec, origin
  std::array<bool, 4> general_seen_{false, false, false, false};
  std::size_t general_line_ = 0;

  std::string section_, section_comment_;
  std::size_t section_line_ = 0, section_start_ = 0;
  bool have_atoms_ = false;
  std::size_t atom_lines_ = 0;

  std::vector<double> positions_;
  std::vector<std::int64_t> images_;
  std::vector<std::int64_t> ids_;
  std::vector<std::int32_t> types_;
  std::vector<std::size_t> lines_;
  std::vector<std::string> mass_symbols_;  // per type, from "1 63.546 # Cu"
  std::vector<std::string> labels_;        // per type, from "Atom Type Labels"
};

}  // namespace

Structure read_lammps_data(const std::string& path, const std::vector<std::string>& type_map) {
  return DataReader(path, type_map).read();
}

}  // namespace symgnn
