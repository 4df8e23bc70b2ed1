// The chemical-symbol column of a text format, read into a structure's species codes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.hpp"
#include "io/elements.hpp"
#include "io/structure.hpp"

namespace symgnn {

// One frame's symbols seen so far with their codes, as views into the file's text: a known symbol
// costs a comparison or two, a new one is checked against the elements once.
class SymbolCodes {
 public:
  // The code of `symbol` in `s` (a new one is appended to s.species_names); a symbol that is not
  // an element fails at the file's current line, naming `field`.
  std::int32_t code(const TextFile& file, std::string_view symbol, std::string_view field,
                    Structure& s) {
    for (const auto& [name, known_code] : known_)
      if (name == symbol) return known_code;
    if (!is_element_symbol(symbol))
      file.fail("field '" + std::string(field) + "': unknown " + std::string(field) + " '" +
                std::string(symbol) + "' (expected a chemical element symbol such as Cu or Zr)");
    known_.emplace_back(symbol, s.species_code(std::string(symbol)));
    return known_.back().second;
  }

 private:
  std::vector<std::pair<std::string_view, std::int32_t>> known_;
};

}  // namespace symgnn
