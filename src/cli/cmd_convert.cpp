// `symgnn-dist convert`: between extxyz, LAMMPS dump/data and HDF5; optionally replicated.
#include <cstdio>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace symgnn::cli {

namespace {

std::array<int, 3> parse_replicate(const std::string& text) {
  std::array<int, 3> n{1, 1, 1};
  std::string_view rest(text);
  for (int k = 0; k < 3; ++k) {
    auto x = rest.find('x');
    std::string_view part = k < 2 ? rest.substr(0, x) : rest;
    std::int64_t v;
    if ((k < 2 && x == std::string_view::npos) || !parse_int64(part, v) || v < 1 || v > 1000)
      throw UsageError("--replicate '" + text +
                       "': expected NXxNYxNZ with counts from 1 to 1000, e.g. 5x5x5");
    n[static_cast<std::size_t>(k)] = static_cast<int>(v);
    if (k < 2) rest.remove_prefix(x + 1);
  }
  return n;
}

int run(const po::variables_map& vm) {
  if (!vm.count("input") || !vm.count("output"))
    throw UsageError("need an input and an output file (usage: symgnn-dist convert IN OUT)");
  const std::string in = vm["input"].as<std::string>();
  const std::string out = vm["output"].as<std::string>();
  const auto n = parse_replicate(vm["replicate"].as<std::string>());
  const int frame = vm["frame"].as<int>();
  std::vector<Structure> frames = select_frame(read_structures(in, read_options(vm)), frame, in);
  if (n != std::array<int, 3>{{1, 1, 1}})
    for (auto& s : frames) s = replicate(s, n);
  write_structures(out, frames, parse_format(vm["out-format"].as<std::string>()));
  std::size_t atoms = 0;
  for (const auto& s : frames) atoms += s.size();
  std::printf("wrote %s: %zu frame%s, %s atoms\n", out.c_str(), frames.size(),
              frames.size() == 1 ? "" : "s", group_digits(static_cast<long long>(atoms)).c_str());
  return 0;
}

}  // namespace

Command convert_command() {
  return {"convert",
          "convert structures between extxyz, LAMMPS dump/data and HDF5; replicate cells",
          "convert [options] INPUT OUTPUT",
          [](po::options_description& d, po::positional_options_description& p) {
            d.add_options()("input", po::value<std::string>(), "structure file to read")(
                "output", po::value<std::string>(),
                "file to write (.extxyz/.xyz, .dump/.lammpstrj or .h5/.hdf5)")(
                "out-format", po::value<std::string>()->default_value("auto"),
                "output format: auto (by extension), extxyz, lammps-dump, hdf5")(
                "replicate", po::value<std::string>()->default_value("1x1x1"),
                "repeat periodic cells NXxNYxNZ (train0 5x5x5 = 1,000,000 atoms)")(
                "frame", po::value<int>()->default_value(-1), "only this frame (0-based; -1: all)");
            add_read_options(d);
            p.add("input", 1).add("output", 1);
          },
          run};
}

}  // namespace symgnn::cli
