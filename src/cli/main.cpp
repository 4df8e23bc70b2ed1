// symgnn-dist: energy barriers of metallic glasses with the Symmetrized Graph Neural Network.
#include <cstdio>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "backend/cpu/blas.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/memory.hpp"
#include "parallel/mpi_env.hpp"

#ifndef SYMGNN_VERSION
#define SYMGNN_VERSION "0.1.0"
#endif

namespace symgnn::cli {

namespace {

void print_usage(std::ostream& out) {
  out << "usage: symgnn-dist <command> [options]\n\ncommands:\n";
  for (const Command& c : all_commands()) {
    std::string pad(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ');
    out << "  " << c.name << pad << c.summary << "\n";
  }
  out << "\n'symgnn-dist <command> --help' lists a command's options; --config FILE reads them\n"
         "from an INI file (see configs/), and the command line overrides the file.\n";
}

}  // namespace
}  // namespace symgnn::cli

namespace {

int run_command(int argc, char** argv) {
  using namespace symgnn::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "symgnn-dist " << SYMGNN_VERSION << "\n";
    return 0;
  }
  const Command* command = nullptr;
  for (const Command& c : all_commands())
    if (c.name == args[0]) command = &c;
  if (!command) {
    std::cerr << "symgnn-dist: unknown command '" << args[0] << "'\n\n";
    print_usage(std::cerr);
    return 2;
  }
  // Under MPI a failing rank stops the whole job (MPI_Abort) rather than leave the others
  // waiting in a collective; it names itself.
  const std::string who =
      "symgnn-dist " + command->name +
      (symgnn::mpi::size() > 1 ? " (rank " + std::to_string(symgnn::mpi::rank()) + ")" : "");
  int code = 0;
  try {
    po::variables_map vm;
    if (!parse_options(*command, {args.begin() + 1, args.end()}, vm)) return 0;
    return command->run(vm);
  } catch (const symgnn::UsageError& e) {
    std::cerr << who << ": error: " << e.what() << "\n";
    code = 2;
  } catch (const std::bad_alloc&) {
    // What the estimates before large allocations (core/memory.hpp) did not foresee.
    std::cerr << who << ": error: out of memory ("
              << symgnn::format_bytes(symgnn::memory_headroom().bytes)
              << " left to this process); the input or options need more than this machine or "
                 "job has\n";
    code = 1;
  } catch (const std::exception& e) {
    std::cerr << who << ": error: " << e.what() << "\n";
    code = 1;
  }
  if (symgnn::mpi::size() > 1) symgnn::mpi::abort(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  symgnn::restart_with_wider_blas_kernels(argv);
  symgnn::keep_freed_memory();
  symgnn::mpi::init(&argc, &argv);
  // Rank 0 speaks for the job; the others print only errors.
  if (symgnn::mpi::rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;
  const int code = run_command(argc, argv);
  symgnn::mpi::finalize();
  return code;
}
