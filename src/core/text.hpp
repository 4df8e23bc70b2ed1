// Fast line-oriented parsing of text structure files: the whole file is read into memory once and
// numbers are parsed with std::from_chars, so a million-atom file parses in about a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace symgnn {

class TextFile {
 public:
  explicit TextFile(const std::string& path);  // throws Error if the file cannot be read

  // Advances to the next line (without its line ending); false at the end of the file.
  bool next_line(std::string_view& line);
  std::size_t bytes_left() const { return pos_ < data_.size() ? data_.size() - pos_ : 0; }
  std::size_t line_number() const { return line_; }
  const std::string& path() const { return path_; }

  // Throws Error("PATH:LINE: WHAT") at the current line.
  [[noreturn]] void fail(std::string_view what) const;

 private:
  std::string path_;
  std::string data_;
  std::size_t pos_ = 0;
  std::size_t line_ = 0;
};

// Splits on spaces and tabs; the views point into `line`.
void split_whitespace(std::string_view line, std::vector<std::string_view>& tokens);

// Strict number parsing of a whole token: false if the token is not entirely a (finite) number.
bool parse_double(std::string_view token, double& value);
bool parse_int64(std::string_view token, std::int64_t& value);

// Parses or fails at the file's current line, naming the field and what was expected.
double field_double(const TextFile& file, std::string_view token, std::string_view field);
std::int64_t field_int64(const TextFile& file, std::string_view token, std::string_view field);

// Shortest text that reads back to exactly the same double.
void append_double(std::string& out, double value);
void append_int64(std::string& out, std::int64_t value);

std::string_view trim(std::string_view s);
// The items separated by single spaces ("Cu Zr", "8 8 8 8").
template <typename T>
std::string join(const std::vector<T>& items) {
  std::string s;
  for (const T& x : items) {
    if (!s.empty()) s += ' ';
    if constexpr (std::is_arithmetic_v<T>)
      s += std::to_string(x);
    else
      s += x;
  }
  return s;
}

}  // namespace symgnn
