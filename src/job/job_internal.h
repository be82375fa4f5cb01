/* Internals shared by the job module's files: the key table (one row per
 * dotted key) that drives defaults, parsing, grid overrides, validation and
 * the generated documentation, the archive's padded dimensions, and the
 * SHA-256 used to fingerprint job text. */
#ifndef RS_JOB_INTERNAL_H
#define RS_JOB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranksweep/rs_config.h"

typedef enum {
  RS__T_INT,
  RS__T_INT64,
  RS__T_DOUBLE,
  RS__T_BOOL,
  RS__T_STRING,
  RS__T_PATH,
  RS__T_ENUM,
  RS__T_INT_LIST,
  RS__T_INT64_LIST,
  RS__T_DOUBLE_LIST
} rs__type;

typedef struct {
  const char *key;     /* dotted key: "train.lr"; top-level keys have no dot */
  rs__type type;
  size_t off;          /* offset of the value (lists: of the first entry) */
  size_t count_off;    /* lists: offset of the int entry count */
  int cap;             /* lists: max entries; strings: buffer size with NUL */
  int min_len;         /* lists: min entries */
  const char *def;     /* default, written as YAML text */
  double lo, hi;       /* range of the value or of each list entry */
  bool lo_open, hi_open; /* bound excluded; +-INFINITY means unbounded */
  const char *const *enums; /* enums: NULL-terminated, index = C enum value */
  bool no_grid;        /* may not be a grid axis */
  bool derived;        /* sets other keys (model.width, model.depth: model.widths), so
                          it is recorded only when set (archives of jobs without it
                          stay as they were) and never in the canonical text */
  const char *doc;
} rs__key;

extern const rs__key rs__keys[];
extern const int rs__nkeys;

const rs__key *rs__key_find(const char *dotted);
/* The known key closest to a misspelt one (edit distance, or same last
 * component), or NULL when nothing is close. */
const rs__key *rs__key_suggest(const char *dotted);
bool rs__key_is_list(const rs__key *k);
int rs__edit_distance(const char *a, const char *b);
/* "an integer >= 1", "one of relu, tanh", "a list of 1..16 integers, each
 * >= 1": what a value of this key must be. */
void rs__key_expect(const rs__key *k, char *buf, size_t len);
/* Type name and allowed values as shown in the documentation. */
const char *rs__key_type_name(const rs__key *k);
void rs__key_allowed(const rs__key *k, char *buf, size_t len);

/* Converts and range-checks a value and stores it in c. On failure returns
 * false and writes "problem; expected ..." into err. */
bool rs__key_set_scalar(const rs__key *k, const char *text, rs_config *c,
                        char *err, size_t errlen);
/* *bad (if not NULL) receives the index of the failing entry, or -1. */
bool rs__key_set_list(const rs__key *k, const char *const *items, int n,
                      rs_config *c, char *err, size_t errlen, int *bad);
/* The value as it appears in run names: %.6g for doubles, lists as 200x200. */
void rs__key_format(const rs__key *k, const rs_config *c, char *buf, size_t len);

/* model.width and model.depth, when set, into model.widths (config.c). */
void rs__config_layers(rs_config *c);

/* Writes run `run` of a job into c without keeping it (rs_job_run keeps
 * every run it returns; the plan walks all runs of a possibly huge grid). */
struct rs_job;
void rs__job_run_into(const struct rs_job *job, int run, rs_config *c);

/* The padded dimensions of a job's archive, the maxima over its runs
 * (archive_size.c): add every run, then read the bytes. */
typedef struct {
  int runs;
  double C, L, P, E, K, W, NP, SB; /* checkpoints, measured layers, points, eps,
                                      spectrum length, weight layers + 1,
                                      saved parameters, state bytes */
  bool all;                        /* some run saves the weights of every checkpoint */
} rs__archive_dims;
void rs__archive_dims_init(rs__archive_dims *d);
void rs__archive_dims_add(rs__archive_dims *d, const rs_config *c);
/* The same with the run's data dimensions (NULL: rs_config_io's estimate). */
void rs__archive_dims_add_io(rs__archive_dims *d, const rs_config *c, const rs_run_io *io);
int64_t rs__archive_dims_bytes(const rs__archive_dims *d);

/* SHA-256: its own header */
#include "sha256.h"

#endif
