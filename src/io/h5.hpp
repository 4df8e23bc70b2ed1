// Thin RAII helpers over the HDF5 C API, shared by structure files and checkpoints. Errors become
// symgnn::Error naming the file and the object path; HDF5's own error stack printing is off.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace symgnn::h5 {

// Owns an HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

// A file (or group) location with the file's path kept for error messages.
struct Location {
  hid_t id;
  std::string file;
  std::string path;  // object path inside the file, "/" for the root
  // In a file every rank of a job has open (SharedFile), datasets move with collective transfers
  // and only the lead rank writes the data all ranks share (cell, species table, ...).
  hid_t xfer = H5P_DEFAULT;
  bool lead = true;
  std::string where(const std::string& name) const;
  Location member(hid_t child, const std::string& name) const;  // keeps xfer and lead
};

Handle create_file(const std::string& path);  // truncates
// The first `bytes` (512, 1024, ...) of the file are the writer's; HDF5 starts after them.
Handle create_file_with_user_block(const std::string& path, hsize_t bytes);
Handle open_file_readonly(const std::string& path);  // Error if it is not an HDF5 file
// Writes out what HDF5 holds of `file` (at `path`); Error naming it, with the system's reason.
void flush(hid_t file, const std::string& path);

// A file opened by every rank of `comm` together (MPI-IO); with one rank, an ordinary file. Every
// rank then makes the same calls in the same order: creating groups, datasets and attributes is
// collective, and so is each read_rows/write_rows, where each rank moves its own rows.
struct SharedFile {
  Handle file, xfer;
  bool lead = true;
  Location root(const std::string& path) const;
};
SharedFile create_shared_file(const std::string& path, MPI_Comm comm);
SharedFile open_shared_file_readonly(const std::string& path, MPI_Comm comm);
Handle create_group(const Location& at, const std::string& name);
Handle open_group(const Location& at, const std::string& name);
bool exists(const Location& at, const std::string& name);
std::vector<std::string> member_names(const Location& at);  // in creation/name order

template <typename T>
void write(const Location& at, const std::string& name, const std::vector<hsize_t>& dims,
           const T* data);
// Reads the whole dataset; `dims` receives its shape.
template <typename T>
std::vector<T> read(const Location& at, const std::string& name, std::vector<hsize_t>& dims);

// A dataset's shape; Error if it is missing.
std::vector<hsize_t> shape(const Location& at, const std::string& name);
// Rows [first, first + count) along the first dimension of a dataset.
template <typename T>
std::vector<T> read_rows(const Location& at, const std::string& name, hsize_t first, hsize_t count);
// Creates a dataset of shape `dims` and writes this rank's rows [first, first + count) into it.
template <typename T>
void write_rows(const Location& at, const std::string& name, const std::vector<hsize_t>& dims,
                hsize_t first, hsize_t count, const T* data);

// Fixed-length UTF-8 strings (what parallel HDF5 can write); read_strings also reads
// variable-length ones.
void write_strings(const Location& at, const std::string& name, const std::vector<std::string>& v);
std::vector<std::string> read_strings(const Location& at, const std::string& name);

void write_attribute(const Location& at, const std::string& name, const std::string& value);
void write_attribute(const Location& at, const std::string& name, std::int64_t value);
bool has_attribute(const Location& at, const std::string& name);
std::string read_string_attribute(const Location& at, const std::string& name);
std::int64_t read_int_attribute(const Location& at, const std::string& name);
std::vector<std::string> attribute_names(const Location& at);

}  // namespace symgnn::h5
