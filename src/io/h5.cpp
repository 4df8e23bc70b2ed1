#include "io/h5.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/error.hpp"
#include "core/memory.hpp"

namespace symgnn::h5 {

namespace {

// Silences HDF5's automatic error printing once; our messages say what went wrong instead.
void quiet() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

[[noreturn]] void fail(const Location& at, const std::string& name, const std::string& what) {
  throw Error(at.file + ": " + at.where(name) + ": " + what);
}

template <typename T>
hid_t native_type();
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}

// UTF-8 strings of `size` bytes, or of variable length (H5T_VARIABLE). We write fixed-length
// strings only: variable-length ones live in the file's global heap, and HDF5 1.10 crashes or
// hangs reading a damaged one (found by fuzzing); files of other writers (h5py) may still hold
// them, so they are read.
// HDF5 converts no strings between character sets: a read takes the stored one (h5py and older
// files store ASCII).
Handle string_type(std::size_t size, H5T_cset_t cset = H5T_CSET_UTF8) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), size);
  H5Tset_cset(t.get(), cset);
  return t;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

std::string Location::where(const std::string& name) const {
  if (name.empty()) return path;
  return path == "/" ? "/" + name : path + "/" + name;
}

Location Location::member(hid_t child, const std::string& name) const {
  return {child, file, where(name), xfer, lead};
}

namespace {

// Files one process writes are built in memory (the core driver, no backing store) and written
// out whole by flush() with plain, checked I/O: HDF5 1.10 leaves a file it failed to write (a full
// disk) half torn down and crashes on it when it terminates, so HDF5 never writes to disk here.
Handle create_in_memory(const std::string& path, hid_t fcpl) {
  quiet();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), std::size_t{1} << 20, false) < 0)
    throw Error(path + ": cannot set up an HDF5 file in memory");
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl.get()), H5Fclose);
  if (!f.valid()) throw Error(path + ": cannot create HDF5 file");
  return f;
}

Handle create_with(const std::string& path, hid_t fapl) {
  if (fapl == H5P_DEFAULT) return create_in_memory(path, H5P_DEFAULT);
  quiet();
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
  if (!f.valid()) throw Error(path + ": cannot create HDF5 file");
  return f;
}

Handle open_with(const std::string& path, hid_t fapl) {
  quiet();
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe) throw Error(path + ": cannot open for reading");
    std::fclose(probe);
    throw Error(path + ": not an HDF5 file (truncated or of another format)");
  }
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose);
  if (!f.valid()) throw Error(path + ": cannot open HDF5 file (truncated or corrupt?)");
  return f;
}

// MPI-IO file access and collective transfers when `comm` has more than one rank.
template <typename Open>
SharedFile shared(const std::string& path, MPI_Comm comm, Open open) {
  int ranks = 1, rank = 0, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Comm_size(comm, &ranks);
    MPI_Comm_rank(comm, &rank);
  }
  SharedFile out;
  out.lead = rank == 0;
  if (ranks == 1) {
    out.file = open(path, H5P_DEFAULT);
    return out;
  }
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL);
  out.file = open(path, fapl.get());
  out.xfer = Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(out.xfer.get(), H5FD_MPIO_COLLECTIVE);
  return out;
}

}  // namespace

Handle create_file(const std::string& path) {
  return create_with(path, H5P_DEFAULT);
}

Handle create_file_with_user_block(const std::string& path, hsize_t bytes) {
  quiet();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (!fcpl.valid() || H5Pset_userblock(fcpl.get(), bytes) < 0)
    throw Error(path + ": cannot set a user block of " + std::to_string(bytes) + " bytes");
  return create_in_memory(path, fcpl.get());
}

Handle open_file_readonly(const std::string& path) {
  return open_with(path, H5P_DEFAULT);
}

void flush(hid_t file, const std::string& path) {
  Handle fapl(H5Fget_access_plist(file), H5Pclose);
  if (H5Pget_driver(fapl.get()) != H5FD_CORE) {  // MPI-IO: every rank writes its part
    errno = 0;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
      throw Error(path + ": " + with_reason("write failed", errno));
    return;
  }
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw Error(path + ": cannot finish the HDF5 file");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  std::vector<char> image(size > 0 ? static_cast<std::size_t>(size) : 0);
  if (size <= 0 || H5Fget_file_image(file, image.data(), image.size()) != size)
    throw Error(path + ": cannot finish the HDF5 file");
  // The image starts at the superblock; a user block (the writer's) goes before it, zeroed.
  Handle fcpl(H5Fget_create_plist(file), H5Pclose);
  hsize_t user_block = 0;
  if (H5Pget_userblock(fcpl.get(), &user_block) < 0)
    throw Error(path + ": cannot finish the HDF5 file");
  const std::vector<char> zeros(static_cast<std::size_t>(user_block), 0);
  errno = 0;
  std::FILE* out = std::fopen(path.c_str(), "wb");
  bool written = out && std::fwrite(zeros.data(), 1, zeros.size(), out) == zeros.size() &&
                 std::fwrite(image.data(), 1, image.size(), out) == image.size() &&
                 std::fflush(out) == 0;
  int error_number = errno;
  if (out && std::fclose(out) != 0 && written) {
    written = false;
    error_number = errno;
  }
  if (!written) throw Error(path + ": " + with_reason("write failed", error_number));
}

Location SharedFile::root(const std::string& path) const {
  return {file.get(), path, "/", xfer.valid() ? xfer.get() : H5P_DEFAULT, lead};
}

SharedFile create_shared_file(const std::string& path, MPI_Comm comm) {
  return shared(path, comm, create_with);
}

SharedFile open_shared_file_readonly(const std::string& path, MPI_Comm comm) {
  return shared(path, comm, open_with);
}

Handle create_group(const Location& at, const std::string& name) {
  // Track creation order so that members (e.g. per-atom columns) list back in the order written.
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  Handle g(H5Gcreate2(at.id, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(at, name, "cannot create group");
  return g;
}

Handle open_group(const Location& at, const std::string& name) {
  if (!exists(at, name)) fail(at, name, "group is missing");
  Handle g(H5Gopen2(at.id, name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(at, name, "cannot open group");
  return g;
}

bool exists(const Location& at, const std::string& name) {
  return H5Lexists(at.id, name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> member_names(const Location& at) {
  std::vector<std::string> names;
  H5G_info_t info;
  if (H5Gget_info(at.id, &info) < 0) fail(at, "", "cannot list group");
  // Creation order where the writer tracked it, name order otherwise.
  H5_index_t index = H5_INDEX_CRT_ORDER;
  if (info.nlinks > 0 &&
      H5Lget_name_by_idx(at.id, ".", index, H5_ITER_INC, 0, nullptr, 0, H5P_DEFAULT) < 0)
    index = H5_INDEX_NAME;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(at.id, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail(at, "", "cannot list group");
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Lget_name_by_idx(at.id, ".", index, H5_ITER_INC, i, name.data(),
                       static_cast<std::size_t>(len) + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

namespace {

// Rows [first, first + count) of a dataset of shape `dims`, as a file and a memory selection.
struct Rows {
  Handle file, memory;
  Rows(const std::vector<hsize_t>& dims, hsize_t first, hsize_t count) {
    if (dims.empty()) return;  // a scalar: H5S_ALL
    file = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    std::vector<hsize_t> start(dims.size(), 0), block = dims;
    start[0] = first;
    block[0] = count;
    memory =
        Handle(H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr), H5Sclose);
    if (count == 0) {  // a rank with no rows still takes part in a collective transfer
      H5Sselect_none(file.get());
      H5Sselect_none(memory.get());
    } else {
      H5Sselect_hyperslab(file.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr);
    }
  }
  hid_t in_file() const { return file.valid() ? file.get() : H5S_ALL; }
  hid_t in_memory() const { return memory.valid() ? memory.get() : H5S_ALL; }
};

hsize_t product(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

}  // namespace

template <typename T>
void write_rows(const Location& at, const std::string& name, const std::vector<hsize_t>& dims,
                hsize_t first, hsize_t count, const T* data) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle set(H5Dcreate2(at.id, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT,
                        H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
  if (!set.valid()) fail(at, name, "cannot create dataset");
  if (product(dims) == 0) return;
  Rows rows(dims, first, count);
  errno = 0;  // the reason, if the system gives one
  if (H5Dwrite(set.get(), native_type<T>(), rows.in_memory(), rows.in_file(), at.xfer, data) < 0)
    fail(at, name, with_reason("write failed", errno));
}

template <typename T>
void write(const Location& at, const std::string& name, const std::vector<hsize_t>& dims,
           const T* data) {
  write_rows(at, name, dims, 0, at.lead ? dims.at(0) : 0, data);
}

std::vector<hsize_t> shape(const Location& at, const std::string& name) {
  if (!exists(at, name)) fail(at, name, "dataset is missing");
  Handle set(H5Dopen2(at.id, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) fail(at, name, "cannot open dataset");
  Handle space(H5Dget_space(set.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(at, name, "cannot read the dataset's shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank), 0);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

template <typename T>
std::vector<T> read_rows(const Location& at, const std::string& name, hsize_t first,
                         hsize_t count) {
  const std::vector<hsize_t> dims = shape(at, name);
  if (!dims.empty() && first + count > dims[0])
    fail(at, name,
         "has " + std::to_string(dims[0]) + " rows, fewer than the " +
             std::to_string(first + count) + " expected");
  std::vector<hsize_t> block = dims;
  if (!block.empty()) block[0] = count;
  // A damaged or foreign file may declare any shape (found by fuzzing: 1.6 TB in 15 kB; sparse
  // datasets are legal HDF5), so the bytes are checked, in floating point, before allocating.
  double bytes = sizeof(T);
  for (auto d : block) bytes *= static_cast<double>(d);
  require_memory(at.file + ": " + at.where(name) + " (" + std::to_string(block.size()) +
                     "-dimensional, " + (block.empty() ? "1" : std::to_string(block[0])) + " rows)",
                 bytes, "the file is damaged or describes a larger structure than this job holds");
  std::vector<T> v(static_cast<std::size_t>(product(block)));
  if (product(dims) == 0) return v;
  Handle set(H5Dopen2(at.id, name.c_str(), H5P_DEFAULT), H5Dclose);
  Rows rows(dims, first, count);
  if (H5Dread(set.get(), native_type<T>(), rows.in_memory(), rows.in_file(), at.xfer, v.data()) < 0)
    fail(at, name, "read failed (truncated file or a type that does not convert?)");
  return v;
}

template <typename T>
std::vector<T> read(const Location& at, const std::string& name, std::vector<hsize_t>& dims) {
  dims = shape(at, name);
  return read_rows<T>(at, name, 0, dims.empty() ? 0 : dims[0]);
}

#define SYMGNN_H5_INSTANTIATE(T)                                                                \
  template void write<T>(const Location&, const std::string&, const std::vector<hsize_t>&,      \
                         const T*);                                                             \
  template void write_rows<T>(const Location&, const std::string&, const std::vector<hsize_t>&, \
                              hsize_t, hsize_t, const T*);                                      \
  template std::vector<T> read<T>(const Location&, const std::string&, std::vector<hsize_t>&);  \
  template std::vector<T> read_rows<T>(const Location&, const std::string&, hsize_t, hsize_t);
SYMGNN_H5_INSTANTIATE(double)
SYMGNN_H5_INSTANTIATE(float)
SYMGNN_H5_INSTANTIATE(std::int32_t)
SYMGNN_H5_INSTANTIATE(std::int64_t)
SYMGNN_H5_INSTANTIATE(std::uint8_t)
#undef SYMGNN_H5_INSTANTIATE

void write_strings(const Location& at, const std::string& name, const std::vector<std::string>& v) {
  std::size_t width = 1;
  for (const auto& x : v) width = std::max(width, x.size() + 1);
  Handle type = string_type(width);
  const hsize_t n = v.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle set(H5Dcreate2(at.id, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose);
  if (!set.valid()) fail(at, name, "cannot create dataset");
  if (n == 0) return;
  std::string chars(n * width, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) v[i].copy(&chars[i * width], v[i].size());
  Rows rows({n}, 0, at.lead ? n : 0);
  errno = 0;
  if (H5Dwrite(set.get(), type.get(), rows.in_memory(), rows.in_file(), at.xfer, chars.data()) < 0)
    fail(at, name, with_reason("write failed", errno));
}

std::vector<std::string> read_strings(const Location& at, const std::string& name) {
  if (!exists(at, name)) fail(at, name, "dataset is missing");
  Handle set(H5Dopen2(at.id, name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle space(H5Dget_space(set.get()), H5Sclose);
  Handle file_type(H5Dget_type(set.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING) fail(at, name, "expected a dataset of strings");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<std::string> out;
  if (n <= 0) return out;
  // String tables here are short (species symbols); a damaged file may declare any count and
  // width (found by fuzzing: terabytes in a 15 kB file), so they are bounded before allocating.
  const bool variable = H5Tis_variable_str(file_type.get()) > 0;
  const double bytes = static_cast<double>(n) *
                       static_cast<double>(variable ? sizeof(char*) : H5Tget_size(file_type.get()));
  if (bytes > 64.0 * (1 << 20))
    fail(at, name,
         std::to_string(n) + " strings of " + format_bytes(bytes / static_cast<double>(n)) +
             " each, more than the 64 MiB a string table may hold (the file is damaged)");
  if (variable) {
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    Handle type = string_type(H5T_VARIABLE, H5Tget_cset(file_type.get()));
    if (H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, at.xfer, ptrs.data()) < 0)
      fail(at, name, "read failed");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
    return out;
  }
  const std::size_t width = H5Tget_size(file_type.get());
  std::string chars(static_cast<std::size_t>(n) * width, '\0');
  if (H5Dread(set.get(), file_type.get(), H5S_ALL, H5S_ALL, at.xfer, chars.data()) < 0)
    fail(at, name, "read failed");
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    std::string x = chars.substr(i * width, width);
    x.erase(std::find(x.begin(), x.end(), '\0'), x.end());
    out.push_back(std::move(x));
  }
  return out;
}

void write_attribute(const Location& at, const std::string& name, const std::string& value) {
  Handle type = string_type(value.size() + 1);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(at.id, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0)
    fail(at, "", "cannot write attribute '" + name + "'");
}

void write_attribute(const Location& at, const std::string& name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(
      H5Acreate2(at.id, name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    fail(at, "", "cannot write attribute '" + name + "'");
}

bool has_attribute(const Location& at, const std::string& name) {
  return H5Aexists(at.id, name.c_str()) > 0;
}

std::string read_string_attribute(const Location& at, const std::string& name) {
  if (!has_attribute(at, name)) fail(at, "", "attribute '" + name + "' is missing");
  Handle attr(H5Aopen(at.id, name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle file_type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING)
    fail(at, "", "attribute '" + name + "' is not a string");
  if (H5Tis_variable_str(file_type.get()) > 0) {
    Handle type = string_type(H5T_VARIABLE, H5Tget_cset(file_type.get()));
    char* p = nullptr;
    if (H5Aread(attr.get(), type.get(), &p) < 0)
      fail(at, "", "cannot read attribute '" + name + "'");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  std::size_t size = H5Tget_size(file_type.get());
  std::string s(size, '\0');
  if (H5Aread(attr.get(), file_type.get(), s.data()) < 0)
    fail(at, "", "cannot read attribute '" + name + "'");
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  return s;
}

std::int64_t read_int_attribute(const Location& at, const std::string& name) {
  if (!has_attribute(at, name)) fail(at, "", "attribute '" + name + "' is missing");
  Handle attr(H5Aopen(at.id, name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle file_type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_INTEGER)
    fail(at, "", "attribute '" + name + "' is not an integer");
  std::int64_t v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0)
    fail(at, "", "cannot read attribute '" + name + "'");
  return v;
}

std::vector<std::string> attribute_names(const Location& at) {
  std::vector<std::string> names;
  // H5Aiterate2 works across HDF5 1.10 and 1.12+, unlike the H5Oget_info variants.
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(at.id, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names) < 0)
    fail(at, "", "cannot list attributes");
  return names;
}

}  // namespace symgnn::h5
