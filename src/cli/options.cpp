#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace symgnn::cli {

const std::vector<Command>& all_commands() {
  static const std::vector<Command> commands = {train_command(),   predict_command(),
                                                graph_command(),   convert_command(),
                                                devices_command(), explain_command()};
  return commands;
}

namespace {

void add_common_options(po::options_description& desc) {
  desc.add_options()("help,h", "show this help")(
      "config", po::value<std::string>()->value_name("FILE"),
      "read options from an INI file (key = value; the command line overrides it)");
}

// Every option name any command knows: a config file may hold keys for other commands (a train
// config is also read by predict), but a key no command knows is a mistake worth reporting.
const std::set<std::string>& known_option_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> all;
    for (const Command& c : all_commands()) {
      po::options_description d;
      po::positional_options_description p;
      add_common_options(d);
      c.define(d, p);
      for (const auto& o : d.options()) all.insert(o->long_name());
    }
    return all;
  }();
  return names;
}

// Boost.Program_options formats its error messages by replacing placeholders such as %value% with
// the option's text, again and again while one is left: a value that holds a placeholder itself
// loops for ever (found by fuzzing the configuration). Such text is refused before Boost sees it.
std::string placeholder_in(std::string_view text) {
  for (std::size_t a = text.find('%'); a != std::string_view::npos; a = text.find('%', a + 1)) {
    const std::size_t b = text.find('%', a + 1);
    if (b == std::string_view::npos) break;
    const std::string_view word = text.substr(a + 1, b - a - 1);
    if (!word.empty() && std::all_of(word.begin(), word.end(),
                                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
      return std::string(text.substr(a, b - a + 1));
  }
  return "";
}

// Reads key = value lines; [section] headers only group keys for the reader.
po::parsed_options parse_config(const std::string& path, const po::options_description& desc) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot open the configuration file");
  po::parsed_options parsed(&desc);
  std::string raw;
  std::size_t line = 0;
  auto config_error = [&](const std::string& what) {
    throw UsageError(path + ":" + std::to_string(line) + ": " + what);
  };
  while (std::getline(in, raw)) {
    ++line;
    std::string_view s = trim(raw);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (s.empty() || s.front() == '#' || s.front() == ';') continue;
    if (s.front() == '[') {
      if (s.back() != ']') config_error("expected a section header like [train]");
      continue;
    }
    if (const std::string p = placeholder_in(s); !p.empty())
      config_error("'" + p +
                   "' cannot appear in a configuration (it is a placeholder of Boost's "
                   "error messages)");
    auto eq = s.find('=');
    if (eq == std::string_view::npos) config_error("expected 'key = value'");
    std::string key(trim(s.substr(0, eq)));
    std::replace(key.begin(), key.end(), '_', '-');  // type_map and type-map are the same key
    std::string_view value = s.substr(eq + 1);
    if (auto hash = value.find(" #"); hash != std::string_view::npos) value = value.substr(0, hash);
    value = trim(value);
    if (!known_option_names().count(key))
      config_error("unknown option '" + key + "' (see symgnn-dist COMMAND --help)");
    if (key == "config" || key == "help")
      config_error("'" + key + "' cannot be set in a config file");
    const po::option_description* od = desc.find_nothrow(key, false);
    if (!od) continue;  // another command's option
    po::option opt;
    opt.string_key = key;
    if (od->semantic()->max_tokens() > 1) {
      std::vector<std::string_view> tok;
      split_whitespace(value, tok);
      for (auto t : tok) opt.value.emplace_back(t);
    } else if (od->semantic()->max_tokens() == 1) {
      opt.value.emplace_back(value);
    } else if (value != "true" && value != "1" && value != "yes") {
      if (value == "false" || value == "0" || value == "no") continue;
      config_error("'" + key + "' is a switch: expected true or false");
    }
    opt.original_tokens = {key};
    parsed.options.push_back(opt);
  }
  return parsed;
}

// Values that make no sense for an option, whichever command reads it, refused before any work
// with the option's name. A bound is inclusive unless marked open.
struct Range {
  const char* name;
  double low;
  bool low_open;
  double high;
  bool high_open;
  std::string meaning;
};

const std::vector<Range>& option_ranges() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  // More threads than this are a typo, never a speed-up; the OpenMP runtime crashes on 100,000.
  static const double max_threads = 8.0 * std::max(1u, std::thread::hardware_concurrency());
  static const std::vector<Range> ranges = {
      {"threads", 0, false, max_threads, false,
       "0 (all cores) up to " + std::to_string(static_cast<int>(max_threads)) +
           " (8 per core of this machine)"},
      {"cutoff", 0, true, inf, true, "a positive distance in Å"},
      {"lr", 0, true, inf, true, "a positive learning rate"},
      {"lr-min", 0, false, inf, true, "a learning rate of 0 or more"},
      {"clip", 0, true, inf, true, "a positive gradient norm"},
      {"weight-decay", 0, false, inf, true, "0 (none) or more"},
      {"ema", 0, false, 1, true, "0 (none) up to, not including, 1"},
      {"dropout", 0, false, 1, true, "a probability from 0 up to, not including, 1"},
      {"epochs", 1, false, inf, true, "at least 1 epoch"},
      {"eval-every", 1, false, inf, true, "at least 1 epoch"},
      {"patience", 0, false, inf, true, "0 or more epochs"},
      {"checkpoint-every", 0, false, inf, true, "0 (only at the end) or more epochs"},
      {"time-limit", 0, false, inf, true, "0 (none) or more minutes"},
      {"batch-graphs", 0, false, inf, true, "0 (full batch) or more structures"},
      {"dim", 1, false, inf, true, "at least 1"},
      {"decoder-layers", 1, false, inf, true, "at least 1"},
      {"transforms", 1, false, inf, true, "at least 1 transform"},
      {"eval-transforms", -1, false, inf, true,
       "-1 (the default, see --help), 0 (k, as trained) or more transforms"},
      {"frames", 1, false, inf, true, "at least 1 frame"},
      {"frame", -1, false, inf, true, "-1 (all frames) or a frame number from 0"},
      {"groups", 1, false, inf, true, "at least 1 group"},
      {"steps", 1, false, inf, true, "at least 1 step"},
      {"hops", 0, false, inf, true, "0 (the model's layers) or more hops"},
      {"random", 1, false, inf, true, "at least 1 atom"},
      {"nearest-origin", 1, false, inf, true, "at least 1 atom"},
      {"size-coef", 0, false, inf, true, "0 or more"},
      {"entropy-coef", 0, false, inf, true, "0 or more"},
  };
  return ranges;
}

double numeric_value(const boost::any& v) {
  if (const auto* i = boost::any_cast<int>(&v)) return *i;
  if (const auto* l = boost::any_cast<std::int64_t>(&v)) return static_cast<double>(*l);
  if (const auto* d = boost::any_cast<double>(&v)) return *d;
  return std::numeric_limits<double>::quiet_NaN();
}

void check_ranges(const po::variables_map& vm) {
  for (const Range& r : option_ranges()) {
    if (!vm.count(r.name)) continue;
    const double v = numeric_value(vm[r.name].value());
    const bool ok = std::isfinite(v) && (r.low_open ? v > r.low : v >= r.low) &&
                    (r.high_open ? v < r.high : v <= r.high);
    if (!ok) {
      std::string given;
      if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15)
        given = std::to_string(static_cast<long long>(v));
      else
        append_double(given, v);
      throw UsageError(std::string("--") + r.name + " " + given + ": expected " + r.meaning);
    }
  }
}

}  // namespace

bool parse_options(const Command& command, const std::vector<std::string>& args,
                   po::variables_map& vm) {
  po::options_description desc("Options of symgnn-dist " + command.name);
  po::positional_options_description positional;
  add_common_options(desc);
  command.define(desc, positional);
  for (const auto& a : args)
    if (const std::string p = placeholder_in(a); !p.empty())
      throw UsageError("'" + a + "': '" + p +
                       "' cannot appear in an argument (it is a placeholder of Boost's error "
                       "messages)");
  try {
    // No guessing of abbreviated options: --cutof must not silently mean --cutoff.
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(desc).positional(positional).style(style).run(),
              vm);
    if (vm.count("help")) {
      std::cout << "usage: symgnn-dist " << command.usage << "\n\n"
                << command.summary << "\n\n"
                << desc << "\n";
      return false;
    }
    if (vm.count("config")) po::store(parse_config(vm["config"].as<std::string>(), desc), vm);
    po::notify(vm);
    check_ranges(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see: symgnn-dist " + command.name + " --help)");
  }
  return true;
}

void add_read_options(po::options_description& desc) {
  desc.add_options()("format", po::value<std::string>()->default_value("auto"),
                     "input format: auto (by extension), extxyz, lammps-dump, lammps-data, hdf5")(
      "type-map", po::value<std::string>()->default_value(""),
      "species of LAMMPS numeric atom types, in type order (\"Cu Zr\") or as \"1=Cu,2=Zr\"");
}

ReadOptions read_options(const po::variables_map& vm) {
  ReadOptions r;
  r.format = parse_format(vm["format"].as<std::string>());
  r.type_map = parse_type_map(vm["type-map"].as<std::string>());
  return r;
}

std::vector<Structure> select_frame(std::vector<Structure> frames, int frame,
                                    const std::string& path) {
  if (frame < 0) return frames;
  if (frame >= static_cast<int>(frames.size()))
    throw UsageError(path + ": --frame " + std::to_string(frame) + " but the file holds " +
                     std::to_string(frames.size()) + " frames");
  return {std::move(frames[static_cast<std::size_t>(frame)])};
}

std::string group_digits(long long v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

}  // namespace symgnn::cli
