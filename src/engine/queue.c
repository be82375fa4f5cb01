/* The dispatcher's task queue (queue.h): a first-in first-out array of shard
 * tasks, compacted before it grows, and the reference count that frees a
 * checkpoint's weights after its last shard. */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"

int rs__queue_push(rs__queue *Q, rs__task t) {
  if (Q->tail == Q->cap) {
    if (Q->head > 0) {
      memmove(Q->q, Q->q + Q->head, (Q->tail - Q->head) * sizeof *Q->q);
      Q->tail -= Q->head;
      Q->head = 0;
    } else {
      size_t cap = Q->cap ? 2 * Q->cap : 256;
      rs__task *q = realloc(Q->q, cap * sizeof *q);
      RS_CHECK(q, RS_ENOMEM, "out of memory for the task queue");
      Q->q = q;
      Q->cap = cap;
    }
  }
  Q->q[Q->tail++] = t;
  return RS_OK;
}

rs__task rs__queue_pop(rs__queue *Q) {
  RS_ASSERT(Q->head < Q->tail);
  return Q->q[Q->head++];
}

void rs__task_release(rs__task *t) {
  if (--*t->refs == 0) {
    free(t->params);
    free(t->refs);
  }
}

void rs__queue_free(rs__queue *Q) {
  while (Q->head < Q->tail) rs__task_release(&Q->q[Q->head++]);
  free(Q->q);
  memset(Q, 0, sizeof *Q);
}
