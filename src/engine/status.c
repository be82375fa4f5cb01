/* The status file next to the archive (ARCHIVE.status): rank 0 rewrites it
 * atomically every RS__STATUS_EVERY seconds with the progress, the ETA and
 * its cost model, as JSON written by hand (status_print.c reads it back). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"

/* JSON string: quotes, backslashes and control bytes escaped; bytes that are
 * not valid UTF-8 become \u00XX, so any path or job name yields valid JSON. */
static void rs__json_str(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  fputc('"', f);
  while (*p) {
    unsigned char c = *p;
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
    for (int k = 1; valid && k < len; k++) valid = (p[k] & 0xC0) == 0x80;
    if (!valid) {
      fprintf(f, "\\u%04x", c);
      p++;
    } else if (len > 1) {
      fwrite(p, 1, (size_t)len, f);
      p += len;
    } else {
      if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
      else if (c == '\n') fputs("\\n", f);
      else if (c == '\t') fputs("\\t", f);
      else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
      else fputc(c, f);
      p++;
    }
  }
  fputc('"', f);
}

/* Seconds between status-file updates; `status` calls a sweep stale after
 * RS__STATUS_STALE_INTERVALS of them without an update (and at least a minute:
 * one long measurement on rank 0 may delay a tick). */
#define RS__STATUS_EVERY 1.0
#define RS__STATUS_STALE_INTERVALS 10
#define RS__STATUS_STALE_MIN 60.0
static long rs__peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  long kb = -1;
  char line[256];
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static void rs__status_body(FILE *f, const rs__status_info *s) {
  time_t now = time(NULL);
  char stamp[64], host[256] = "";
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  gethostname(host, sizeof host - 1);
  fputs("{\"state\": ", f);
  rs__json_str(f, s->state);
  fputs(", \"archive\": ", f);
  rs__json_str(f, s->archive);
  fputs(", \"job\": ", f);
  rs__json_str(f, s->job);
  fputs(",\n \"host\": ", f);
  rs__json_str(f, host);
  fprintf(f, ", \"pid\": %d, \"updated\": \"%s\", \"updated_unix\": %lld,"
             " \"update_interval_seconds\": %.1f,\n",
          (int)getpid(), stamp, (long long)now, RS__STATUS_EVERY);
  fprintf(f,
          " \"runs_done\": %d, \"runs_total\": %d, \"runs_training\": %d,\n"
          " \"checkpoints_done\": %lld, \"checkpoints_total\": %lld,\n"
          " \"steps_done\": %lld, \"steps_total\": %lld, \"steps_per_second\": %.1f,\n"
          " \"elapsed_seconds\": %.1f, \"eta_seconds\": %.1f, \"ranks\": %d,"
          " \"rank0_peak_rss_kb\": %ld, \"weights_bytes_in\": %lld,"
          " \"weights_bytes_out\": %lld,\n",
          s->runs_done, s->runs_total, s->runs_training, (long long)s->ckpts_done,
          (long long)s->ckpts_total, (long long)s->steps_done, (long long)s->steps_total,
          s->rate, s->elapsed, s->eta, s->ranks, rs__peak_rss_kb(), (long long)s->wbytes_in,
          (long long)s->wbytes_out);
  /* Where the workers' CPU time has gone so far in this invocation. */
  fprintf(f,
          " \"cpu_seconds_training\": %.3f, \"cpu_seconds_local_ranks\": %.3f,"
          " \"cpu_seconds_checkpoint_metrics\": %.3f,\n",
          s->cpu_sum[0], s->cpu_sum[1], s->cpu_sum[2]);
  /* The ETA's cost model, per run shape (first 8): measured and planned
   * seconds per training step, evaluation point and checkpoint's metrics. */
  fputs(" \"cost_model\": [", f);
  for (int i = 0; i < s->ncost && i < 8; i++) {
    const rs__status_cost *c = &s->cost[i];
    fprintf(f, "%s\n  {\"nparams\": %lld, \"batch\": %lld, \"points\": %lld", i ? "," : "",
            (long long)c->nparams, (long long)c->batch, (long long)c->npoints);
    static const char *names[3] = {"step", "point", "checkpoint"};
    for (int k = 0; k < 3; k++) {
      fprintf(f, ", \"%s_units\": %.0f, \"%s_planned_s\": %.3e", names[k], c->units[k],
              names[k], c->planned[k]);
      if (c->units[k] > 0)
        fprintf(f, ", \"%s_measured_s\": %.3e, \"%s_cpu_s\": %.3e", names[k], c->measured[k],
                names[k], c->cpu[k]);
    }
    fputc('}', f);
  }
  fputs("],\n", f);
  fputs(" \"blas_kernel\": ", f);
  rs__json_str(f, rs_blas_kernel());
  fputs(", \"cpu_isa\": ", f);
  rs__json_str(f, rs_cpu_best_isa());
  fputs("}\n", f);
}

/* Written the crash-safe way (temporary file, flush, fsync, rename, then the
 * directory synced so the rename itself survives a crash). The temporary
 * file is created exclusively with a random name (mkostemp: O_EXCL, which
 * never follows a symlink), since the archive's directory may be writable by
 * others; any failure removes it. */
int rs__status_write(const rs__status_info *s) {
  char path[RS_PATH_MAX + 16], tmp[RS_PATH_MAX + 32], dir[RS_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s.status", s->archive);
  snprintf(tmp, sizeof tmp, "%s.status.tmpXXXXXX", s->archive);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return rs_error(RS_EIO, "%s: cannot create the status file: %s", path, strerror(errno));
  FILE *f = fdopen(fd, "w");
  if (!f) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return rs_error(RS_EIO, "%s: cannot write the status file: %s", tmp, strerror(e));
  }
  if (fchmod(fd, 0644) != 0) { /* mkostemp makes it 0600; readers may be others */
  }
  rs__status_body(f, s);
  int e = 0;
  if (ferror(f) || fflush(f) != 0 || fsync(fd) != 0) e = errno ? errno : EIO;
  if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
  if (e) {
    unlink(tmp);
    return rs_error(RS_EIO, "%s: cannot write the status file: %s", tmp, strerror(e));
  }
  if (rename(tmp, path) != 0) {
    e = errno;
    unlink(tmp);
    return rs_error(RS_EIO, "%s: cannot replace the status file: %s", path, strerror(e));
  }
  snprintf(dir, sizeof dir, "%s", s->archive);
  char *slash = strrchr(dir, '/');
  if (slash) slash[slash == dir] = '\0';
  else snprintf(dir, sizeof dir, ".");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { /* best effort: the file itself is already durable */
    if (fsync(dfd) != 0) {
    }
    close(dfd);
  }
  return RS_OK;
}
