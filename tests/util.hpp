// Shared helpers for the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "graph/graph.hpp"
#include "io/structure.hpp"
#include "model/batch.hpp"

namespace symgnn::test {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to a file in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// The message of the symgnn::Error that `f` throws; fails the test if it throws nothing.
std::string error_message(const std::function<void()>& f);

std::string data_path(const std::string& relative);  // tests/data/<relative>
// ../shared/datasets/cuzr-symgnn/<name>, or "" (and the caller skips) when it is absent.
std::string shared_dataset(const std::string& name);

// A small periodic two-species glass-like structure with a labelled energy barrier
// ("energy_barrier"), its graph and its batch.
struct Fixture {
  Structure s;
  Graph graph;
  GraphBatch batch;
};
Fixture small_structure(int atoms, double box, double cutoff, std::uint64_t seed);

}  // namespace symgnn::test
