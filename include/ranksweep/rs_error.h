/* ranksweep error codes: one X-macro table generates the enum, the names and
 * the messages, and one family of macros (PETSc style) propagates a failure
 * while recording file:line, so a deep failure prints a short traceback:
 *
 *   RS_CALL(expr)                 a ranksweep call; on failure, return its code
 *   RS_TRY(rc, expr, label)       the same, but rc = code and goto label (clean-up)
 *   RS_CHECK(cond, err, fmt, ...) a condition; when false, record the message
 *                                 and return err
 *   RS_CALL_MPI(expr)             an MPI call; a code other than MPI_SUCCESS
 *                                 becomes RS_EMPI with MPI's own error string
 *
 * The message and the traceback are per thread (thread-local), so threads
 * that fail at the same time do not garble each other's messages; a thread
 * hands its message to the one that joins it with rs_error_save/restore. */
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

/* Process exit codes of every command (docs/reference/cli.md; the SLURM
 * templates requeue on RS_EXIT_WORK_REMAINS). */
enum {
  RS_EXIT_DONE = 0,        /* done: the sweep is complete */
  RS_EXIT_ERROR = 1,       /* an error; the message says what */
  RS_EXIT_USAGE = 2,       /* a bad command line or option value (RS_EARG) */
  RS_EXIT_WORK_REMAINS = 3 /* drained on a signal (RS_EINTERRUPTED): resume with --resume */
};
/* The one mapping from an error code to the exit code, for every command. */
int rs_exit_code(int err);

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

#define RS_TRY(rc, expr, label)                                          \
  do {                                                                   \
    (rc) = (expr);                                                       \
    if ((rc) != RS_OK) {                                                 \
      rs__error_trace(__FILE__, __LINE__, __func__);                     \
      goto label;                                                        \
    }                                                                    \
  } while (0)

#define RS_CHECK(cond, err, ...)                                         \
  do {                                                                   \
    if (!(cond)) {                                                       \
      rs_error((err), __VA_ARGS__);                                      \
      rs__error_trace(__FILE__, __LINE__, __func__);                     \
      return (err);                                                      \
    }                                                                    \
  } while (0)

/* Expands to MPI names: use only in files that include <mpi.h>. */
#define RS_CALL_MPI(expr)                                                \
  do {                                                                   \
    int rs__m = (expr);                                                  \
    if (rs__m != MPI_SUCCESS) {                                          \
      char rs__s[MPI_MAX_ERROR_STRING];                                  \
      int rs__n = 0;                                                     \
      if (MPI_Error_string(rs__m, rs__s, &rs__n) != MPI_SUCCESS) rs__n = 0; \
      rs__s[rs__n] = '\0';                                               \
      rs__error_mpi(#expr, rs__s);                                       \
      rs__error_trace(__FILE__, __LINE__, __func__);                     \
      return RS_EMPI;                                                    \
    }                                                                    \
  } while (0)
/* Records "MPI_Xxx failed: <MPI's string>" for RS_CALL_MPI (the name is the
 * call text up to its parenthesis). */
void rs__error_mpi(const char *call, const char *mpi_message);

/* A thread's error, carried to the thread that joins it. */
typedef struct {
  char msg[1024];
} rs_error_saved;
void rs_error_save(rs_error_saved *s);
/* Makes the saved message the calling thread's current one; returns err. */
int rs_error_restore(const rs_error_saved *s, int err);

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
