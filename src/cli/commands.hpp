// The subcommands of symgnn-dist. Each defines its options (also accepted from --config INI files)
// and runs on the parsed values.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

#include "io/formats.hpp"

namespace symgnn::cli {

namespace po = boost::program_options;

struct Command {
  std::string name;
  std::string summary;
  std::string usage;  // e.g. "graph [options] STRUCTURE..."
  std::function<void(po::options_description&, po::positional_options_description&)> define;
  std::function<int(const po::variables_map&)> run;
};

Command graph_command();
Command convert_command();
Command devices_command();
Command train_command();
Command predict_command();
Command explain_command();
const std::vector<Command>& all_commands();

// Parses the arguments after the command name, then --config FILE (INI): the command line wins.
// Returns false if --help was given (the help has been printed).
bool parse_options(const Command& command, const std::vector<std::string>& args,
                   po::variables_map& vm);

// --format and --type-map, shared by every command that reads structures.
void add_read_options(po::options_description& desc);
ReadOptions read_options(const po::variables_map& vm);
// --frame of the structures read from `path`: all of them for -1, else that one (a UsageError
// naming the file when it holds fewer).
std::vector<Structure> select_frame(std::vector<Structure> frames, int frame,
                                    const std::string& path);

// --dim, --heads, ... --cutoff: the model's shape and data settings (train; predict reads them
// from the checkpoint).
void add_model_options(po::options_description& desc);

// 1234567 -> "1,234,567"
std::string group_digits(long long v);

}  // namespace symgnn::cli
