// Graceful stop on the signals a batch system sends before it kills or requeues a job (SLURM:
// SIGTERM on scancel, preemption and time-out; SIGUSR1 with `--signal`), and on Ctrl-C.
// The handler only records the signal; the training loop polls it at epoch boundaries, writes a
// checkpoint and exits with kExitStoppedBySignal. A second identical signal kills as usual.
#pragma once

namespace symgnn {

// Exit status of `symgnn-dist train` when it stopped on a signal after writing OUT/last.h5
// (EX_TEMPFAIL of sysexits.h: "try again later"); the job templates requeue on it.
inline constexpr int kExitStoppedBySignal = 75;

// Installs the handler for SIGTERM, SIGUSR1 and SIGINT.
void install_stop_handlers();

// The signal received since install_stop_handlers(), or 0.
int stop_signal();

// "SIGTERM", "SIGUSR1", ...
const char* signal_name(int signal);

}  // namespace symgnn
