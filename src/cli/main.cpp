// symgnn-dist: energy barriers of metallic glasses with the Symmetrized Graph Neural Network.
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/memory.hpp"

#ifndef SYMGNN_VERSION
#define SYMGNN_VERSION "0.1.0"
#endif

namespace symgnn::cli {

const std::vector<Command>& all_commands() {
  static const std::vector<Command> commands = {train_command(), predict_command(), graph_command(),
                                                convert_command(), devices_command()};
  return commands;
}

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

int main(int argc, char** argv) {
  using namespace symgnn::cli;
  symgnn::keep_freed_memory();
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
  try {
    po::variables_map vm;
    if (!parse_options(*command, {args.begin() + 1, args.end()}, vm)) return 0;
    return command->run(vm);
  } catch (const symgnn::UsageError& e) {
    std::cerr << "symgnn-dist " << command->name << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "symgnn-dist " << command->name << ": error: " << e.what() << "\n";
    return 1;
  }
}
