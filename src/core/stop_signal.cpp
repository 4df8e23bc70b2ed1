#include "core/stop_signal.hpp"

#include <csignal>
#include <initializer_list>

namespace symgnn {

namespace {

volatile std::sig_atomic_t received = 0;

extern "C" void record_signal(int signal) {
  received = signal;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action = {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  // Blocking calls (MPI, file I/O) carry on where they were; the next delivery of the same
  // signal takes its default action, so a second Ctrl-C or an insisting scheduler is not kept
  // waiting for the checkpoint.
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  for (int s : {SIGTERM, SIGUSR1, SIGINT}) sigaction(s, &action, nullptr);
}

int stop_signal() {
  return received;
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGINT:
      return "SIGINT";
    default:
      return "a signal";
  }
}

}  // namespace symgnn
