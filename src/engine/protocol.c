/* The message protocol's helpers: sending and receiving rs__msg and
 * checkpoint weights, polling, and the backed-off wait for a message (the
 * tags and kinds are documented in protocol.h). */
#include "protocol.h"

#include "engine_internal.h"
#include "ranksweep/rs_error.h"

int rs__send(MPI_Comm comm, const rs__msg *m, int dest, int tag) {
  RS_CALL_MPI(MPI_Send(m, (int)sizeof *m, MPI_BYTE, dest, tag, comm));
  return RS_OK;
}

int rs__recv(MPI_Comm comm, rs__msg *m, int src, int tag) {
  RS_CALL_MPI(MPI_Recv(m, (int)sizeof *m, MPI_BYTE, src, tag, comm, MPI_STATUS_IGNORE));
  return RS_OK;
}

int rs__send_params(MPI_Comm comm, const double *p, int64_t n, int dest) {
  RS_CALL_MPI(MPI_Send(p, (int)n, MPI_DOUBLE, dest, TAG_PARAMS, comm));
  return RS_OK;
}

int rs__recv_params(MPI_Comm comm, double *p, int64_t n, int src) {
  if (p) {
    RS_CALL_MPI(MPI_Recv(p, (int)n, MPI_DOUBLE, src, TAG_PARAMS, comm, MPI_STATUS_IGNORE));
    return RS_OK;
  }
  /* No memory: a receive of 0 doubles takes the message off the line, and
   * MPI reports the truncation, which is what was asked for. */
  double none;
  int rc = MPI_Recv(&none, 0, MPI_DOUBLE, src, TAG_PARAMS, comm, MPI_STATUS_IGNORE), cls = 0;
  if (rc != MPI_SUCCESS && MPI_Error_class(rc, &cls) == MPI_SUCCESS && cls == MPI_ERR_TRUNCATE)
    rc = MPI_SUCCESS;
  RS_CALL_MPI(rc);
  return RS_OK;
}

int rs__poll(MPI_Comm comm, int src, int tag, bool *flag, MPI_Status *st) {
  int f = 0;
  RS_CALL_MPI(MPI_Iprobe(src, tag, comm, &f, st));
  *flag = f != 0;
  return RS_OK;
}

void rs__backoff_start(rs__backoff *b) {
  b->t0 = rs__now();
  b->nap = 20;
}

void rs__backoff_wait(rs__backoff *b) {
  if (rs__now() - b->t0 < 2e-4) return;
  rs__sleep_us(b->nap);
  if (b->nap < 1000) b->nap *= 2;
}

int rs__probe_sleepy(MPI_Comm comm, int src, int tag, MPI_Status *st, bool stop_on_drain) {
  rs__backoff b;
  rs__backoff_start(&b);
  for (;;) {
    bool flag = false;
    RS_CALL(rs__poll(comm, src, tag, &flag, st));
    if (flag) return RS_OK;
    if (stop_on_drain && rs_sweep_drain_requested()) return RS_EINTERRUPTED;
    rs__backoff_wait(&b);
  }
}
