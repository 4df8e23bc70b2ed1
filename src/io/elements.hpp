// Chemical element symbols, to refuse species that are not elements.
#pragma once

#include <string_view>

namespace symgnn {

bool is_element_symbol(std::string_view symbol);
// Symbol of atomic number z (1..118), or an empty view.
std::string_view element_symbol(int z);

}  // namespace symgnn
