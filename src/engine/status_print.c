/* `ranksweep status`: reads the status file a sweep writes (status.c),
 * validates it with a small strict JSON reader, judges whether the sweep is
 * alive, stale or dead, and prints a summary or the file itself. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_sweep.h"

/* A small strict JSON reader: enough to validate the whole file and to pick
 * the top-level members a summary needs. */
typedef struct {
  const char *p, *end;
  int depth;
} rs__jr;

static void rs__jws(rs__jr *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

/* Parses a string; copies its (unescaped, \u kept as '?' beyond ASCII) text
 * into out when out is not NULL. */
static bool rs__jstring(rs__jr *j, char *out, size_t cap) {
  size_t n = 0;
  if (j->p >= j->end || *j->p != '"') return false;
  j->p++;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p++;
    if (c < 0x20) return false;
    if (c == '\\') {
      if (j->p >= j->end) return false;
      char e = *j->p++;
      if (e == 'u') {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
          if (j->p >= j->end) return false;
          char h = *j->p++;
          int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (d < 0) return false;
          v = v * 16 + (unsigned)d;
        }
        c = v < 0x80 ? (unsigned char)v : '?';
      } else {
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *q = strchr(from, e);
        if (!e || !q) return false;
        c = (unsigned char)to[q - from];
      }
    }
    if (out && n + 1 < cap) out[n++] = (char)c;
  }
  if (j->p >= j->end) return false;
  j->p++;
  if (out) out[n] = '\0';
  return true;
}

static bool rs__jvalue(rs__jr *j);

static bool rs__jnumber(rs__jr *j, double *v) {
  const char *q = j->p;
  if (q < j->end && *q == '-') q++;
  if (q >= j->end || *q < '0' || *q > '9') return false;
  if (*q == '0') q++;
  else
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  if (q < j->end && *q == '.') {
    q++;
    if (q >= j->end || *q < '0' || *q > '9') return false;
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < j->end && (*q == 'e' || *q == 'E')) {
    q++;
    if (q < j->end && (*q == '+' || *q == '-')) q++;
    if (q >= j->end || *q < '0' || *q > '9') return false;
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  }
  char buf[64];
  size_t n = (size_t)(q - j->p) < sizeof buf - 1 ? (size_t)(q - j->p) : sizeof buf - 1;
  memcpy(buf, j->p, n);
  buf[n] = '\0';
  if (v) *v = strtod(buf, NULL);
  j->p = q;
  return true;
}

static bool rs__jvalue(rs__jr *j) {
  rs__jws(j);
  if (j->p >= j->end) return false;
  char c = *j->p;
  if (c == '"') return rs__jstring(j, NULL, 0);
  if (c == '{' || c == '[') {
    if (++j->depth > 32) return false;
    char close = c == '{' ? '}' : ']';
    j->p++;
    rs__jws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      j->depth--;
      return true;
    }
    for (;;) {
      if (c == '{') {
        rs__jws(j);
        if (!rs__jstring(j, NULL, 0)) return false;
        rs__jws(j);
        if (j->p >= j->end || *j->p++ != ':') return false;
      }
      if (!rs__jvalue(j)) return false;
      rs__jws(j);
      if (j->p >= j->end) return false;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != close) return false;
      j->depth--;
      return true;
    }
  }
  static const char *lit[] = {"true", "false", "null"};
  for (int k = 0; k < 3; k++) {
    size_t n = strlen(lit[k]);
    if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, lit[k], n)) {
      j->p += n;
      return true;
    }
  }
  return rs__jnumber(j, NULL);
}

/* The status members the summary uses. */
typedef struct {
  char state[32], archive[RS_PATH_MAX], job[256], host[256], updated[64], kernel[64];
  double pid, updated_unix, interval, runs_done, runs_total, runs_training, ck_done, ck_total,
      steps_done, steps_total, rate, elapsed, eta, ranks, cpu_train, cpu_points, cpu_ckpt;
} rs__status;

/* One member's value: into s when it is one the summary uses (and must
 * have the right type), else validated and skipped. */
static bool rs__status_member(rs__jr *j, const char *key, rs__status *s, const char **why) {
  struct { const char *k; char *dst; size_t cap; } strs[] = {
      {"state", s->state, sizeof s->state}, {"archive", s->archive, sizeof s->archive},
      {"job", s->job, sizeof s->job}, {"host", s->host, sizeof s->host},
      {"updated", s->updated, sizeof s->updated}, {"blas_kernel", s->kernel, sizeof s->kernel}};
  struct { const char *k; double *dst; } nums[] = {
      {"pid", &s->pid}, {"updated_unix", &s->updated_unix},
      {"update_interval_seconds", &s->interval}, {"runs_done", &s->runs_done},
      {"runs_total", &s->runs_total}, {"runs_training", &s->runs_training},
      {"checkpoints_done", &s->ck_done}, {"checkpoints_total", &s->ck_total},
      {"steps_done", &s->steps_done}, {"steps_total", &s->steps_total},
      {"steps_per_second", &s->rate}, {"elapsed_seconds", &s->elapsed},
      {"eta_seconds", &s->eta}, {"ranks", &s->ranks},
      {"cpu_seconds_training", &s->cpu_train}, {"cpu_seconds_local_ranks", &s->cpu_points},
      {"cpu_seconds_checkpoint_metrics", &s->cpu_ckpt}};
  for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
    if (!strcmp(key, strs[k].k)) {
      if (rs__jstring(j, strs[k].dst, strs[k].cap)) return true;
      *why = "a string member is malformed or not a string";
      return false;
    }
  for (size_t k = 0; k < sizeof nums / sizeof *nums; k++)
    if (!strcmp(key, nums[k].k)) {
      if (rs__jnumber(j, nums[k].dst)) return true;
      *why = "a numeric member is not a number";
      return false;
    }
  if (rs__jvalue(j)) return true;
  *why = "a member's value is not valid JSON";
  return false;
}

/* Validates the whole text as one JSON object and fills s from its members. */
static bool rs__status_parse(const char *text, size_t n, rs__status *s, const char **why) {
  rs__jr j = {text, text + n, 0};
  memset(s, 0, sizeof *s);
  s->pid = s->updated_unix = s->interval = -1;
  rs__jws(&j);
  if (j.p >= j.end || *j.p != '{') {
    *why = "does not start with a JSON object";
    return false;
  }
  j.p++;
  rs__jws(&j);
  for (bool first = true;; first = false) {
    rs__jws(&j);
    if (first && j.p < j.end && *j.p == '}') break;
    char key[64];
    if (!rs__jstring(&j, key, sizeof key)) {
      *why = "a member name is not a valid JSON string";
      return false;
    }
    rs__jws(&j);
    if (j.p >= j.end || *j.p++ != ':') {
      *why = "a member lacks its ':'";
      return false;
    }
    rs__jws(&j);
    if (!rs__status_member(&j, key, s, why)) return false;
    rs__jws(&j);
    if (j.p < j.end && *j.p == ',') {
      j.p++;
      continue;
    }
    if (j.p < j.end && *j.p == '}') break;
    *why = j.p >= j.end ? "it ends early (truncated?)" : "a member is not followed by ',' or '}'";
    return false;
  }
  j.p++;
  rs__jws(&j);
  if (j.p != j.end) {
    *why = "text follows the JSON object";
    return false;
  }
  if (!s->state[0] || s->pid < 0 || s->updated_unix < 0) {
    *why = "it lacks state, pid or updated_unix";
    return false;
  }
  return true;
}

static void rs__dur(double s, char *buf, size_t cap) {
  if (s < 0) snprintf(buf, cap, "unknown");
  else if (s < 120) snprintf(buf, cap, "%.0f s", s);
  else if (s < 7200) snprintf(buf, cap, "%.1f min", s / 60);
  else snprintf(buf, cap, "%.1f h", s / 3600);
}

/* The status file's text (NUL-terminated; *n bytes). */
static int rs__status_read(const char *path, const char *archive, char **text, size_t *n) {
  /* O_NONBLOCK: a FIFO in its place must not block; fstat then refuses it. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return rs_error(RS_EIO, "%s: no status file (is a sweep writing %s?): %s", path, archive,
                    strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    bool reg = S_ISREG(st.st_mode);
    close(fd);
    return rs_error(RS_EIO, "%s: not a status file (%s)", path,
                    reg ? "larger than 1 MB" : "not a regular file");
  }
  *text = malloc((size_t)st.st_size + 1);
  if (!*text) {
    close(fd);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  *n = 0;
  while (*n < (size_t)st.st_size) {
    ssize_t k = read(fd, *text + *n, (size_t)st.st_size - *n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    *n += (size_t)k;
  }
  close(fd);
  (*text)[*n] = '\0';
  return RS_OK;
}

/* Liveness: a running sweep rewrites the file every interval; on its own
 * host its pid must exist. */
static const char *rs__liveness(const rs__status *s, double age) {
  bool active = !strcmp(s->state, "running") || !strcmp(s->state, "draining");
  if (!active) return "finished";
  double interval = s->interval > 0 ? s->interval : RS__STATUS_EVERY;
  double stale_after = interval * RS__STATUS_STALE_INTERVALS;
  if (stale_after < RS__STATUS_STALE_MIN) stale_after = RS__STATUS_STALE_MIN;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  if (s->host[0] && !strcmp(s->host, host) && s->pid > 0 && kill((pid_t)s->pid, 0) != 0 &&
      errno == ESRCH)
    return "dead";
  return age > stale_after ? "stale" : "alive";
}

static void rs__status_summary(const rs__status *s, const char *live, double age, FILE *out) {
  char el[32], eta[32], ag[32];
  rs__dur(s->elapsed, el, sizeof el);
  rs__dur(s->eta, eta, sizeof eta);
  rs__dur(age, ag, sizeof ag);
  fprintf(out, "archive      %s\njob          %s\n", s->archive, s->job);
  if (!strcmp(live, "dead"))
    fprintf(out, "state        dead: the file says %s, but process %.0f on %s is gone "
                 "(resume with `ranksweep run JOB -o %s --resume`)\n",
            s->state, s->pid, s->host, s->archive);
  else if (!strcmp(live, "stale"))
    fprintf(out, "state        stale: the file says %s, but it was last updated %s ago "
                 "(process %.0f on %s)\n", s->state, ag, s->pid, s->host);
  else
    fprintf(out, "state        %s (process %.0f on %s)\n", s->state, s->pid, s->host);
  fprintf(out, "updated      %s (%s ago)\n", s->updated, ag);
  fprintf(out, "runs         %.0f/%.0f done, %.0f training\n", s->runs_done, s->runs_total,
          s->runs_training);
  fprintf(out, "checkpoints  %.0f/%.0f measured\n", s->ck_done, s->ck_total);
  fprintf(out, "steps        %.0f/%.0f (%.0f steps/s)\n", s->steps_done, s->steps_total, s->rate);
  fprintf(out, "elapsed      %s on %.0f ranks\n", el, s->ranks);
  double cpu = s->cpu_train + s->cpu_points + s->cpu_ckpt;
  if (cpu > 0) {
    char t[32];
    rs__dur(cpu, t, sizeof t);
    fprintf(out, "CPU          %s: training %.0f%%, local ranks %.0f%%, checkpoint metrics %.0f%%\n",
            t, 100 * s->cpu_train / cpu, 100 * s->cpu_points / cpu, 100 * s->cpu_ckpt / cpu);
  }
  if (!strcmp(live, "alive")) fprintf(out, "remaining    %s (estimate)\n", eta);
  if (s->kernel[0]) fprintf(out, "BLAS kernel  %s\n", s->kernel);
}

int rs_status_print(const char *archive, const rs_status_opts *o, FILE *out) {
  char path[RS_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s.status", archive);
  char *text = NULL;
  size_t n = 0;
  RS_CALL(rs__status_read(path, archive, &text, &n));
  rs__status s;
  const char *why = "";
  bool nul = memchr(text, '\0', n) != NULL;
  if (n == 0 || nul || !rs__status_parse(text, n, &s, &why)) {
    free(text);
    return rs_error(RS_EIO, "%s: not a valid status file: %s", path,
                    n == 0 ? "it is empty" : nul ? "it holds NUL bytes" : why);
  }
  double age = difftime(time(NULL), (time_t)s.updated_unix);
  const char *live = rs__liveness(&s, age);
  if (o && o->json) {
    /* The file as written, plus what this reader observed. */
    char *close_brace = strrchr(text, '}');
    while (close_brace > text && (close_brace[-1] == '\n' || close_brace[-1] == ' ')) close_brace--;
    fwrite(text, 1, (size_t)(close_brace - text), out);
    fprintf(out, ",\n \"observed\": \"%s\", \"age_seconds\": %.0f}\n", live, age);
  } else {
    rs__status_summary(&s, live, age, out);
  }
  free(text);
  return ferror(out) ? rs_error(RS_EIO, "cannot write the status") : RS_OK;
}
