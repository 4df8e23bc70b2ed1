#include "parallel/mpi_env.hpp"

#include <cstdlib>

#include "core/error.hpp"

namespace symgnn::mpi {

namespace {
bool g_active = false;
}

void init(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  // Open MPI's MPI-IO (OMPIO) picks a shared-file-pointer component at every MPI_File_open; its
  // sm and lockedfile components format the file's name into fixed buffers and abort ("buffer
  // overflow detected") on names of about 200 characters. Nothing here uses shared file
  // pointers, so the component that does nothing at open serves, unless the user chose one.
  setenv("OMPI_MCA_sharedfp", "individual", 0);
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes (check() turns them into exceptions, main() aborts the job).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_active = true;
}

void finalize() {
  if (!g_active) return;
  g_active = false;
  MPI_Finalize();
}

bool active() {
  return g_active;
}

int rank() {
  if (!g_active) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  if (!g_active) return 1;
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

int local_rank() {
  if (!g_active) return 0;
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank(), MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  int r = 0;
  MPI_Comm_rank(node, &r);
  MPI_Comm_free(&node);
  return r;
}

void abort(int code) {
  if (g_active) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void rank_and_size(MPI_Comm comm, int* rank, int* ranks) {
  *rank = 0;
  *ranks = 1;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) return;
  MPI_Comm_rank(comm, rank);
  MPI_Comm_size(comm, ranks);
}

void broadcast(std::string& text, MPI_Comm comm) {
  int rank = 0, ranks = 1;
  rank_and_size(comm, &rank, &ranks);
  if (ranks == 1) return;
  auto length = static_cast<int>(text.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  text.resize(static_cast<std::size_t>(length));
  MPI_Bcast(text.data(), length, MPI_CHAR, 0, comm);
}

std::string error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return std::string(text, static_cast<std::size_t>(len));
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed: " + error_text(rc));
}

}  // namespace symgnn::mpi
