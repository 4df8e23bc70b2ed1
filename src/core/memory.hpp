// Process-wide allocation policy, and how much more this process may allocate.
#pragma once

#include <cstdint>
#include <string>

namespace symgnn {

// Keeps freed memory in the process instead of returning it to the kernel. A training step
// allocates and frees several GB of activations; glibc serves such blocks with mmap and unmaps
// them on free, so every step paid for the kernel zeroing fresh pages again (about 25 % of an
// epoch on the development VM). With this the second step reuses the first step's pages.
void keep_freed_memory();

// What this process may still allocate, in bytes, and what limits it ("MemAvailable", "the
// cgroup's memory.max", "RLIMIT_AS (ulimit -v)"): the least of the kernel's available memory, the
// control group's limit less its usage, and the address-space limit less the space in use.
struct MemoryHeadroom {
  double bytes = 0;
  std::string limited_by;
};
MemoryHeadroom memory_headroom();

// The address space this process has mapped (VmSize), in bytes; what counts against ulimit -v.
double address_space_in_use();

// Refuses, before allocating, work whose estimated bytes exceed the headroom: an Error naming
// `what` (for example "the neighbour graph of glass.extxyz"), the estimate, the headroom, what
// limits it, and `hint` (what to change), instead of an out-of-memory kill or std::bad_alloc
// inside a parallel region. Requests of 64 MiB or less pass unchecked.
void require_memory(const std::string& what, double bytes, const std::string& hint);

// "1.5 GiB", "820 MiB": a byte count for messages.
std::string format_bytes(double bytes);

}  // namespace symgnn
