/* Signals: the drain signal, SIGTERM and SIGINT only set a flag (the one
 * static of the engine), which the dispatcher, the trainers and serial mode
 * poll. Also the sweep options' defaults. */
#include <signal.h>
#include <string.h>

#include "engine_internal.h"

static volatile sig_atomic_t rs__drain_flag = 0;

static void rs__on_signal(int sig) {
  (void)sig;
  rs__drain_flag = 1;
}

void rs_sweep_signals_install(int drain_signal) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = rs__on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(drain_signal > 0 ? drain_signal : SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

bool rs_sweep_drain_requested(void) { return rs__drain_flag != 0; }

void rs__drain_set(void) { rs__drain_flag = 1; }

void rs__drain_clear(void) { rs__drain_flag = 0; }

void rs_sweep_opts_default(rs_sweep_opts *o) {
  memset(o, 0, sizeof *o);
  o->blas_threads = 1;
  o->progress_every = 2.0;
  o->drain_signal = SIGUSR1;
}
