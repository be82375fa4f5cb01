/* The error table's strings, the last-error message and the traceback used
 * by RS_CALL. Both are thread-local: the local-rank code runs threads, and a
 * thread's failure reaches its joiner through rs_error_save/restore. */
#include "ranksweep/rs_error.h"

#include <stdarg.h>
#include <string.h>

static _Thread_local char rs__msg[1024];
static _Thread_local char rs__trace[2048];

const char *rs_err_name(int err) {
  switch (err) {
  case RS_OK: return "RS_OK";
#define RS__ERR_NAME(name, msg) case RS_E##name: return "RS_E" #name;
    RS_ERRNO_MAP(RS__ERR_NAME)
#undef RS__ERR_NAME
  default: return "RS_E?";
  }
}

const char *rs_strerror(int err) {
  switch (err) {
  case RS_OK: return "success";
#define RS__ERR_MSG(name, msg) case RS_E##name: return msg;
    RS_ERRNO_MAP(RS__ERR_MSG)
#undef RS__ERR_MSG
  default: return "unknown error";
  }
}

int rs_exit_code(int err) {
  switch (err) {
  case RS_OK: return RS_EXIT_DONE;
  case RS_EARG: return RS_EXIT_USAGE;
  case RS_EINTERRUPTED: return RS_EXIT_WORK_REMAINS;
  default: return RS_EXIT_ERROR;
  }
}

int rs_error(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rs__msg, sizeof rs__msg, fmt, ap);
  va_end(ap);
  rs__trace[0] = '\0';
  return err;
}

const char *rs_error_message(void) { return rs__msg; }

void rs_error_clear(void) {
  rs__msg[0] = '\0';
  rs__trace[0] = '\0';
}

void rs__error_trace(const char *file, int line, const char *func) {
  size_t n = strlen(rs__trace);
  if (n + 128 < sizeof rs__trace)
    snprintf(rs__trace + n, sizeof rs__trace - n, "  at %s (%s:%d)\n", func,
             file, line);
}

void rs_error_print(int err) {
  if (rs__msg[0])
    fprintf(stderr, "ranksweep: error: %s\n", rs__msg);
  else
    fprintf(stderr, "ranksweep: error: %s\n", rs_strerror(err));
  if (getenv("RANKSWEEP_TRACEBACK") && rs__trace[0])
    fprintf(stderr, "%s", rs__trace);
}

void rs__error_mpi(const char *call, const char *mpi_message) {
  int n = (int)strcspn(call, "( ");
  rs_error(RS_EMPI, "%.*s failed: %s", n, call, mpi_message[0] ? mpi_message : "unknown MPI error");
}

void rs_error_save(rs_error_saved *s) { snprintf(s->msg, sizeof s->msg, "%s", rs__msg); }

int rs_error_restore(const rs_error_saved *s, int err) {
  snprintf(rs__msg, sizeof rs__msg, "%s", s->msg);
  rs__trace[0] = '\0';
  return err;
}
