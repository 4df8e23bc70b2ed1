// Chemical element symbols, to refuse species that are not elements.
#pragma once

#include <cstdint>
#include <string_view>

namespace symgnn {

bool is_element_symbol(std::string_view symbol);
// Symbol of atomic number z (1..118), or an empty view; any 64-bit value, so that a number read
// from a file is checked before it could be narrowed into range.
std::string_view element_symbol(std::int64_t z);

}  // namespace symgnn
