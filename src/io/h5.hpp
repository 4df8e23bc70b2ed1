// Thin RAII helpers over the HDF5 C API, shared by structure files and checkpoints. Errors become
// symgnn::Error naming the file and the object path; HDF5's own error stack printing is off.
#pragma once

#include <hdf5.h>

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
  std::string where(const std::string& name) const;
};

Handle create_file(const std::string& path);         // truncates
Handle open_file_readonly(const std::string& path);  // Error if it is not an HDF5 file
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

void write_strings(const Location& at, const std::string& name, const std::vector<std::string>& v);
std::vector<std::string> read_strings(const Location& at, const std::string& name);

void write_attribute(const Location& at, const std::string& name, const std::string& value);
void write_attribute(const Location& at, const std::string& name, std::int64_t value);
bool has_attribute(const Location& at, const std::string& name);
std::string read_string_attribute(const Location& at, const std::string& name);
std::int64_t read_int_attribute(const Location& at, const std::string& name);
std::vector<std::string> attribute_names(const Location& at);

}  // namespace symgnn::h5
