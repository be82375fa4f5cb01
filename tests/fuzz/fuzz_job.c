/* libFuzzer target: job files. Every byte string must give RS_OK or one
 * error, never a crash, a sanitizer report or a long parse; a parsed job is
 * expanded, planned and sized like `ranksweep plan` does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *sink = NULL;
  if (!sink) sink = fopen("/dev/null", "w");
  rs_job *job = NULL;
  if (rs_job_parse((const char *)data, size, "fuzz.yaml", &job) == RS_OK) {
    for (int r = 0; r < rs_job_nruns(job); r++) {
      const rs_config *c = rs_job_run(job, r);
      int64_t steps[64];
      (void)rs_config_checkpoints(c, steps, 64);
    }
    (void)rs_job_archive_bytes(job);
    (void)rs_job_plan_print(job, sink);
    rs_job_destroy(&job);
  }
  rs_error_clear();
  return 0;
}
