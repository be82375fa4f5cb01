/* Private to src/engine: the dispatcher's queue of shard tasks, first in,
 * first out. A checkpoint's shards share one copy of its weights, freed when
 * the last of them is released. */
#ifndef RS_QUEUE_H
#define RS_QUEUE_H

#include <stddef.h>

typedef struct {
  int run, ckpt;
  double *params; /* shared by the shards of one checkpoint */
  int *refs;      /* holders of params (the queued shards, and the dispatcher while it queues) */
  int shard;
} rs__task;

/* An array used as a FIFO: pushes at tail, pops at head; when the array is
 * full the live tasks move to its front before it grows, so its size stays
 * within twice the most tasks ever queued at once (and at least 256). */
typedef struct {
  rs__task *q;
  size_t head, tail, cap;
} rs__queue;

int rs__queue_push(rs__queue *Q, rs__task t);
static inline size_t rs__queue_len(const rs__queue *Q) { return Q->tail - Q->head; }
/* The oldest task (the queue must not be empty). */
rs__task rs__queue_pop(rs__queue *Q);
/* Drops one holder of t's weights; the last frees them. */
void rs__task_release(rs__task *t);
/* Releases every queued task and frees the array. */
void rs__queue_free(rs__queue *Q);

#endif
