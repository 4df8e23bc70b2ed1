#include "core/memory.hpp"

#include <malloc.h>

#include <climits>

namespace symgnn {

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);              // large blocks from the heap, not from mmap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and up to 2 GiB of free heap top kept for reuse
}

}  // namespace symgnn
