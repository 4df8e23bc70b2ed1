#include "core/memory.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.hpp"

namespace symgnn {

namespace {

// A number from the first line of a file (a cgroup's memory.max or memory.current); negative
// when absent or "max".
double read_number(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return -1;
  try {
    return std::stod(word);
  } catch (const std::exception&) {
    return -1;
  }
}

// A field of /proc/meminfo or /proc/self/status in bytes ("MemAvailable:  123 kB"); negative
// when absent.
double read_kib_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key + ":")) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    double kib = -1;
    fields >> kib;
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

}  // namespace

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);              // large blocks from the heap, not from mmap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and up to 2 GiB of free heap top kept for reuse
}

MemoryHeadroom memory_headroom() {
  MemoryHeadroom h{std::numeric_limits<double>::infinity(), "nothing"};
  const auto consider = [&](double bytes, const char* what) {
    if (bytes >= 0 && bytes < h.bytes) h = {bytes, what};
  };
  consider(read_kib_field("/proc/meminfo", "MemAvailable"), "the machine's available memory");
  // cgroup v2 (a SLURM job's or a container's limit), then v1.
  for (const auto& [limit, usage] :
       {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const double max = read_number(limit), used = read_number(usage);
    if (max >= 0 && max < 1e18 && used >= 0) {
      consider(std::max(0.0, max - used), "the control group's memory limit");
      break;
    }
  }
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    consider(std::max(0.0, static_cast<double>(as.rlim_cur) - address_space_in_use()),
             "the address-space limit (ulimit -v)");
  }
  return h;
}

double address_space_in_use() {
  return std::max(0.0, read_kib_field("/proc/self/status", "VmSize"));
}

std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

void require_memory(const std::string& what, double bytes, const std::string& hint) {
  // Small requests are not worth reading /proc and the cgroup for (every HDF5 array read asks).
  constexpr double kUnchecked = 64.0 * 1024 * 1024;
  if (bytes <= kUnchecked) return;
  const MemoryHeadroom h = memory_headroom();
  if (bytes <= h.bytes) return;
  throw Error(what + " needs about " + format_bytes(bytes) + ", more than the " +
              format_bytes(h.bytes) + " this process may still allocate (limited by " +
              h.limited_by + "); " + hint);
}

}  // namespace symgnn
