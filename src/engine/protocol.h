/* Private to src/engine: the messages between rank 0 (the dispatcher) and the
 * workers: tags, kinds, the one message struct, and the send, receive and
 * polling helpers (every MPI call checked; RS_EMPI on failure). */
#ifndef RS_PROTOCOL_H
#define RS_PROTOCOL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

/* TAG_REQ: a worker asks for its next task, saying what it completed.
 * TAG_TASK: rank 0's answer (kind K_SHARD, K_TRAIN, K_BENCH or K_STOP).
 * TAG_PARAMS: checkpoint weights (doubles), after a TASK or a CKPT that says so.
 * TAG_CKPT: a trainer reached a checkpoint (kind K_NONE: asks who measures
 * it, answered by TAG_CKREPLY; kind K_SHARD: it measured the checkpoint
 * itself). TAG_PROGRESS: a trainer's step and compute time (flag 1: where a
 * resume really restarted). TAG_DRAIN: rank 0 tells a worker to drain.
 * TAG_CKDONE: rank 0 tells a trainer that the checkpoint it handed off is
 * measured, so its next training state may replace older ones. */
enum { TAG_REQ = 1, TAG_TASK, TAG_PARAMS, TAG_CKPT, TAG_PROGRESS, TAG_DRAIN, TAG_CKREPLY,
       TAG_CKDONE };
/* TAG_CKREPLY flags: measure it yourself, send the weights, already measured */
enum { CK_SELF = 0, CK_SEND = 1, CK_ALREADY = 2 };
enum {
  K_NONE = 0,   /* REQ: nothing completed (first request) */
  K_SHARD,      /* TASK: measure a shard / REQ: shard completed */
  K_TRAIN,      /* TASK: train a run / REQ: run trained to the end */
  K_DRAINED,    /* REQ: training stopped early on a drain request */
  K_STOP,       /* TASK: no more work, leave the loop */
  K_BENCH,      /* TASK/REQ: an empty task for the dispatcher benchmark */
  K_ERROR       /* REQ: the worker failed (message printed by the worker) */
};
typedef struct {
  int64_t kind, run, ckpt, shard, p0, np, step, flag, nparams;
  double secs;  /* compute (wall) seconds behind this message (the ETA's cost model) */
  double secs2; /* the same work's CPU seconds */
} rs__msg;

int rs__send(MPI_Comm comm, const rs__msg *m, int dest, int tag);
/* Receives the message a probe found (source and tag as given). */
int rs__recv(MPI_Comm comm, rs__msg *m, int src, int tag);
int rs__send_params(MPI_Comm comm, const double *p, int64_t n, int dest);
/* Receives n doubles into p; p NULL (no memory) receives and drops them. */
int rs__recv_params(MPI_Comm comm, double *p, int64_t n, int src);
/* Is a message (src, tag) waiting? st is filled when there is. */
int rs__poll(MPI_Comm comm, int src, int tag, bool *flag, MPI_Status *st);
/* Waits for a message (src, tag): Open MPI's blocking receive spins on a
 * core, and idle ranks would steal the cores of working ones, so waiting is
 * a short spin then backed-off sleeps (20 us doubling to 1 ms). With
 * stop_on_drain, RS_EINTERRUPTED when a drain is requested meanwhile. */
int rs__probe_sleepy(MPI_Comm comm, int src, int tag, MPI_Status *st, bool stop_on_drain);

/* The back-off of a polling loop: a short spin, then sleeps growing to 1 ms. */
typedef struct {
  double t0;
  long nap;
} rs__backoff;
void rs__backoff_start(rs__backoff *b);
void rs__backoff_wait(rs__backoff *b);

#endif
