/* ranksweep error codes: one X-macro table generates the enum, the names and
 * the messages, and RS_CALL propagates a failure while recording file:line so
 * a deep failure prints a short traceback (PETSc style). */
#ifndef RS_ERROR_H
#define RS_ERROR_H

#include <stdio.h>
#include <stdlib.h>

/* name, message. Codes are negative, RS_OK is 0. */
#define RS_ERRNO_MAP(X)                                                  \
  X(NOMEM, "out of memory")                                              \
  X(IO, "input/output error")                                            \
  X(JOB, "invalid job file")                                             \
  X(DATA, "invalid or unreadable data")                                  \
  X(ARG, "invalid argument")                                             \
  X(LAPACK, "LAPACK routine failed")                                     \
  X(MPI, "MPI call failed")                                              \
  X(HDF5, "HDF5 call failed")                                            \
  X(ARCHIVE, "archive does not match this job")                          \
  X(EXISTS, "output exists")                                             \
  X(DIVERGED, "training diverged")                                       \
  X(INTERRUPTED, "interrupted by a signal")                              \
  X(INTERNAL, "internal error")

typedef enum {
  RS_OK = 0,
#define RS__ERR_ENUM(name, msg) RS_E##name,
  RS__ERR_FIRST = -100,
  RS_ERRNO_MAP(RS__ERR_ENUM)
#undef RS__ERR_ENUM
} rs_err;

const char *rs_strerror(int err);
const char *rs_err_name(int err);

/* Records a user-facing message (one line: file, field, expectation) for the
 * most recent error. Returns err so it can be used as `return rs_error(...)`. */
int rs_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last message set by rs_error (empty string if none). */
const char *rs_error_message(void);
void rs_error_clear(void);
/* Appends a traceback frame; used by RS_CALL. */
void rs__error_trace(const char *file, int line, const char *func);
/* Prints "ranksweep: error: <message>" (and the traceback when
 * RANKSWEEP_TRACEBACK is set) to stderr. */
void rs_error_print(int err);

#define RS_CALL(expr)                                                    \
  do {                                                                   \
    int rs__e = (expr);                                                  \
    if (rs__e != RS_OK) {                                                \
      rs__error_trace(__FILE__, __LINE__, __func__);                     \
      return rs__e;                                                      \
    }                                                                    \
  } while (0)

/* Invariants that no user input can break: abort loudly. */
#define RS_ASSERT(cond)                                                  \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "ranksweep: assertion failed: %s (%s:%d %s)\n",    \
              #cond, __FILE__, __LINE__, __func__);                      \
      abort();                                                           \
    }                                                                    \
  } while (0)

#endif
