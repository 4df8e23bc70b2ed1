// Process-wide allocation policy.
#pragma once

namespace symgnn {

// Keeps freed memory in the process instead of returning it to the kernel. A training step
// allocates and frees several GB of activations; glibc serves such blocks with mmap and unmaps
// them on free, so every step paid for the kernel zeroing fresh pages again (about 25 % of an
// epoch on the development VM). With this the second step reuses the first step's pages.
void keep_freed_memory();

}  // namespace symgnn
