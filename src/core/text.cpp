#include "core/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.hpp"

namespace symgnn {

TextFile::TextFile(const std::string& path) : path_(path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(path + ": cannot open for reading");
  std::fseek(f.get(), 0, SEEK_END);
  long size = std::ftell(f.get());
  if (size < 0) throw Error(path + ": cannot determine the file size");
  std::fseek(f.get(), 0, SEEK_SET);
  data_.resize(static_cast<std::size_t>(size));
  if (size > 0 && std::fread(data_.data(), 1, data_.size(), f.get()) != data_.size())
    throw Error(path + ": read error");
}

bool TextFile::next_line(std::string_view& line) {
  if (pos_ >= data_.size()) return false;
  std::size_t end = data_.find('\n', pos_);
  if (end == std::string::npos) end = data_.size();
  std::size_t stop = end;
  if (stop > pos_ && data_[stop - 1] == '\r') --stop;
  line = std::string_view(data_).substr(pos_, stop - pos_);
  pos_ = end + 1;
  ++line_;
  return true;
}

void TextFile::fail(std::string_view what) const {
  input_error(path_, line_, what);
}

void split_whitespace(std::string_view line, std::vector<std::string_view>& tokens) {
  tokens.clear();
  std::size_t i = 0, n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) tokens.push_back(line.substr(start, i - start));
  }
}

bool parse_double(std::string_view token, double& value) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  const char* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), end, value);
  return ec == std::errc() && ptr == end && std::isfinite(value);
}

bool parse_int64(std::string_view token, std::int64_t& value) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  const char* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), end, value);
  return ec == std::errc() && ptr == end;
}

double field_double(const TextFile& file, std::string_view token, std::string_view field) {
  double v;
  if (!parse_double(token, v))
    file.fail("field '" + std::string(field) + "': expected a finite number, got '" +
              std::string(token) + "'");
  return v;
}

std::int64_t field_int64(const TextFile& file, std::string_view token, std::string_view field) {
  std::int64_t v;
  if (!parse_int64(token, v))
    file.fail("field '" + std::string(field) + "': expected an integer, got '" +
              std::string(token) + "'");
  return v;
}

void append_double(std::string& out, double value) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ptr);
}

void append_int64(std::string& out, std::int64_t value) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ptr);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace symgnn
