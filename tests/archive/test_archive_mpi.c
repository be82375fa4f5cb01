/* MPI tests of the archive under mpirun -np 1, 2, 3: collective creation,
 * disjoint independent writes from every rank, masks, means, resume checks,
 * two-slot state against a torn write, refusals, probe, and merge. */
#include <check.h>
#include "../rs_check_mpi.h"
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synth.h"

int rs__archive_write_state_blob(rs_archive *a, int run, int slot, const void *blob, int64_t n);

static int g_rank, g_size;
static char g_dir[512];
static syn_desc_t g_syn, g_syn2;
static const rs_archive_desc *g_desc, *g_desc2;
static rs_archive_run g_runs[SYN_RUNS];
static rs_archive_info g_info = {0, 1, SYN_SHARD, false, NULL, NULL, NULL};

static void path_of(char *buf, const char *name) { snprintf(buf, 600, "%s/%s", g_dir, name); }

/* Writes every cell of the runs in run_set (bit r), spread over the ranks. */
static void fill(rs_archive *a, unsigned run_set) {
  int k = 0;
  for (int r = 0; r < SYN_RUNS; r++) {
    if (!(run_set >> r & 1)) continue;
    for (int c = 0; c < syn_nckpt[r]; c++) {
      for (int s = 0; s < syn_nshards(r); s++)
        if (k++ % g_size == g_rank) ck_assert_int_eq(syn_write_shard(a, r, c, s), RS_OK);
      if (k++ % g_size == g_rank) {
        ck_assert_int_eq(syn_write_metrics(a, r, c), RS_OK);
        if (r == 1) ck_assert_int_eq(syn_write_weights(a, r, c), RS_OK);
      }
    }
    if (k++ % g_size == g_rank) {
      unsigned char blob[64];
      syn_blob(r, 30, blob);
      ck_assert_int_eq(rs_archive_write_state(a, r, 30, blob, syn_state_size(r)), RS_OK);
      syn_blob(r, 60, blob);
      ck_assert_int_eq(rs_archive_write_state(a, r, 60, blob, syn_state_size(r)), RS_OK);
      if (syn_save(r) != RS_SAVE_NONE) ck_assert_int_eq(syn_write_weights(a, r, -1), RS_OK);
      ck_assert_int_eq(rs_archive_write_run_done(a, r, r == 2, 100 + r), RS_OK);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static void check_masks_rank(rs_archive *a, unsigned run_set);
static void check_masks(rs_archive *a, unsigned run_set) {
  check_masks_rank(a, run_set);
  MPI_Barrier(MPI_COMM_WORLD); /* nobody writes on while another still reads */
}

static void check_masks_rank(rs_archive *a, unsigned run_set) {
  rs_archive_dims d;
  ck_assert_int_eq(rs_archive_dims_get(a, &d), RS_OK);
  ck_assert_int_eq(d.nruns, SYN_RUNS);
  ck_assert_int_eq(d.nckpt, 5);
  ck_assert_int_eq(d.nshards, 3);
  uint8_t sm[SYN_RUNS * 5 * 3], mm[SYN_RUNS * 5], rm[SYN_RUNS];
  ck_assert_int_eq(rs_archive_read_masks(a, sm, mm, rm), RS_OK);
  for (int r = 0; r < SYN_RUNS; r++) {
    int in = run_set >> r & 1;
    ck_assert_int_eq(rm[r], in);
    bool done, div;
    ck_assert_int_eq(rs_archive_run_done(a, r, &done, &div), RS_OK);
    ck_assert_int_eq(done, in);
    ck_assert_int_eq(div, in && r == 2);
    unsigned char blob[64];
    int64_t step = 0;
    ck_assert_int_eq(rs_archive_read_state(a, r, 1000, &step, blob, syn_state_size(r)), RS_OK);
    ck_assert_int_eq(step, -1); /* a finished run's state is cleared; others never wrote one */
    for (int c = 0; c < 5; c++) {
      ck_assert_int_eq(mm[r * 5 + c], in && c < syn_nckpt[r]);
      for (int s = 0; s < 3; s++)
        ck_assert_int_eq(sm[(r * 5 + c) * 3 + s], in && c < syn_nckpt[r] && s < syn_nshards(r));
      if (c < syn_nckpt[r]) {
        ck_assert_int_eq(rs_archive_metrics_done(a, r, c, &done), RS_OK);
        ck_assert_int_eq(done, in);
        ck_assert_int_eq(rs_archive_shard_done(a, r, c, 0, &done), RS_OK);
        ck_assert_int_eq(done, in);
      }
    }
  }
}

/* Serial read-back (rank 0) of what the archive holds, against the synth. */
static void check_content(const char *path, unsigned run_set, bool means) {
  if (g_rank != 0) return;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert_int_ge(f, 0);
  static int32_t cnt[SYN_RUNS][5][3][10][3];
  static float sp[SYN_RUNS][5][3][10][6];
  static double mean[SYN_RUNS][5][3][3], eff[SYN_RUNS][5][3][10];
  hid_t d = H5Dopen2(f, "lr/counts", H5P_DEFAULT);
  ck_assert_int_ge(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, cnt), 0);
  H5Dclose(d);
  d = H5Dopen2(f, "lr/spectra", H5P_DEFAULT);
  ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp), 0);
  H5Dclose(d);
  d = H5Dopen2(f, "lr/mean", H5P_DEFAULT);
  ck_assert_int_ge(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, mean), 0);
  H5Dclose(d);
  d = H5Dopen2(f, "lr/effrank", H5P_DEFAULT);
  ck_assert_int_ge(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, eff), 0);
  H5Dclose(d);
  for (int r = 0; r < SYN_RUNS; r++) {
    int in = run_set >> r & 1;
    for (int c = 0; c < 5; c++)
      for (int l = 0; l < 3; l++) {
        bool cell = in && c < syn_nckpt[r] && l < syn_nlayers[r];
        for (int p = 0; p < 10; p++) {
          bool pt = cell && p < syn_npoints[r];
          for (int e = 0; e < 3; e++)
            ck_assert_int_eq(cnt[r][c][l][p][e], pt ? syn_count(r, c, l, p, e) : -1);
          ck_assert(pt ? eff[r][c][l][p] == syn_eff(r, c, l, p) : isnan(eff[r][c][l][p]));
          for (int k = 0; k < 6; k++) {
            bool kk = pt && k < syn_speclen(r, l);
            ck_assert(kk ? sp[r][c][l][p][k] == (float)syn_sv(r, c, l, p, k) : isnan(sp[r][c][l][p][k]));
          }
        }
        for (int e = 0; e < 3; e++) {
          if (!means || !cell) {
            ck_assert(isnan(mean[r][c][l][e]));
            continue;
          }
          /* the mean from the counts, summed here in a different order */
          double sum = 0;
          for (int p = syn_npoints[r] - 1; p >= 0; p--) sum += syn_count(r, c, l, p, e);
          ck_assert_msg(mean[r][c][l][e] == sum / syn_npoints[r], "run %d ckpt %d layer %d eps %d: %g vs %g",
                        r, c, l, e, mean[r][c][l][e], sum / syn_npoints[r]);
        }
      }
  }
  H5Fclose(f);
}

START_TEST(create_write_finalize) {
  char p[600];
  path_of(p, "full.h5");
  rs_archive *a = NULL;
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  fill(a, 7);
  check_masks(a, 7);
  ck_assert_int_eq(rs_archive_finalize(a, true), RS_OK);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  ck_assert_ptr_null(a);
  check_content(p, 7, true);
  /* never overwrite */
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_EEXISTS);
  ck_assert_ptr_nonnull(strstr(rs_error_message(), p));
  ck_assert_ptr_null(a);
}
END_TEST

START_TEST(partial_and_resume) {
  char p[600];
  path_of(p, "partial.h5");
  rs_archive *a = NULL;
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  fill(a, 5);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK); /* no finalize: as after a kill */
  check_content(p, 5, false);
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  check_masks(a, 5);
  fill(a, 2); /* resume completes run 1 */
  check_masks(a, 7);
  ck_assert_int_eq(rs_archive_finalize(a, true), RS_OK);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  check_content(p, 7, true);
}
END_TEST

START_TEST(refusals) {
  char p[600];
  path_of(p, "full.h5");
  rs_archive *a = NULL;
  /* another job file */
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, g_desc2, &g_info, &a), RS_EARCHIVE);
  const char *m = rs_error_message();
  ck_assert_ptr_nonnull(strstr(m, p));
  ck_assert_ptr_nonnull(strstr(m, SYN_JOB_HASH));
  ck_assert_ptr_nonnull(strstr(m, SYN_OTHER_HASH));
  ck_assert_ptr_null(a);
  /* same job, other dimensions */
  rs_archive_run other[SYN_RUNS];
  memcpy(other, g_runs, sizeof other);
  other[1].npoints = 8;
  syn_desc_t syn_other;
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, syn_desc(&syn_other, other, false), &g_info, &a),
                   RS_EARCHIVE);
  ck_assert_ptr_nonnull(strstr(rs_error_message(), "dimensions"));
  /* out-of-grid writes are refused, not scribbled */
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  ck_assert_int_eq(syn_write_shard(a, 1, 3, 0), RS_EARG); /* run 1 has 3 checkpoints */
  ck_assert_int_eq(rs_archive_write_weights(a, 0, -1, NULL, 5), RS_EARG);
  ck_assert_int_eq(syn_write_weights(a, 2, -1), RS_EARG); /* run 2 saves no weights */
  ck_assert_int_eq(syn_write_weights(a, 0, 1), RS_EARG);  /* run 0 only its final ones */
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
}
END_TEST

START_TEST(state_slots) {
  char p[600];
  path_of(p, "state.h5");
  rs_archive *a = NULL;
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  int run = g_rank % SYN_RUNS; /* ranks beyond the runs share them read-only */
  int64_t n = syn_state_size(run), step;
  unsigned char b[64], got[64], junk[64];
  memset(junk, 0xAB, sizeof junk);
  if (g_rank < SYN_RUNS) {
    ck_assert_int_eq(rs_archive_read_state(a, run, 1000, &step, got, n), RS_OK);
    ck_assert_int_eq(step, -1);
    syn_blob(run, 100, b);
    ck_assert_int_eq(rs_archive_write_state(a, run, 100, b, n), RS_OK);
    syn_blob(run, 200, b);
    ck_assert_int_eq(rs_archive_write_state(a, run, 200, b, n), RS_OK);
    ck_assert_int_eq(rs_archive_read_state(a, run, 1000, &step, got, n), RS_OK);
    ck_assert_int_eq(step, 200);
    ck_assert_int_eq(memcmp(got, b, (size_t)n), 0);
    ck_assert_int_eq(rs_archive_read_state(a, run, 150, &step, got, n), RS_OK);
    ck_assert_int_eq(step, 100);
    /* torn write: the next slot's blob lands, its header never does */
    ck_assert_int_eq(rs__archive_write_state_blob(a, run, 0, junk, n), RS_OK);
  }
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_OK);
  if (g_rank < SYN_RUNS) {
    ck_assert_int_eq(rs_archive_read_state(a, run, 1000, &step, got, n), RS_OK);
    ck_assert_int_eq(step, 200);
    syn_blob(run, 200, b);
    ck_assert_int_eq(memcmp(got, b, (size_t)n), 0);
    ck_assert_int_eq(rs_archive_read_state(a, run, 150, &step, got, n), RS_OK);
    ck_assert_int_eq(step, -1); /* the torn slot is never handed out */
    syn_blob(run, 300, b);
    ck_assert_int_eq(rs_archive_write_state(a, run, 300, b, n), RS_OK);
    ck_assert_int_eq(rs_archive_read_state(a, run, 1000, &step, got, n), RS_OK);
    ck_assert_int_eq(step, 300);
    ck_assert_int_eq(memcmp(got, b, (size_t)n), 0);
    ck_assert_int_eq(rs_archive_read_state(a, run, 250, &step, got, n), RS_OK);
    ck_assert_int_eq(step, 200);
  }
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
}
END_TEST

START_TEST(probe_and_incomplete) {
  char p[600], e[600], t[600], x[600], full[600];
  path_of(p, "killed.h5");
  path_of(e, "empty.h5");
  path_of(t, "text.h5");
  path_of(x, "absent.h5");
  path_of(full, "full.h5");
  if (g_rank == 0) {
    /* what a kill during creation leaves: the format attribute, no marker */
    hid_t f = H5Fcreate(p, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, 17);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, "format", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, ty, "ranksweep-archive");
    H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(ty);
    H5Fclose(f);
    fclose(fopen(e, "w"));
    /* killed right after H5Fcreate: an HDF5 file with nothing in it */
    path_of(full, "bare.h5");
    H5Fclose(H5Fcreate(full, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
    /* somebody else's HDF5 file */
    path_of(full, "theirs.h5");
    f = H5Fcreate(full, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(f);
    path_of(full, "full.h5");
    FILE *ft = fopen(t, "w");
    fputs("not an archive\n", ft);
    fclose(ft);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  rs_archive_status st;
  ck_assert_int_eq(rs_archive_probe(p, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_INCOMPLETE);
  ck_assert_int_eq(rs_archive_probe(e, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_INCOMPLETE);
  ck_assert_int_eq(rs_archive_probe(t, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_FOREIGN);
  ck_assert_int_eq(rs_archive_probe(x, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_ABSENT);
  ck_assert_int_eq(rs_archive_probe(full, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_READY);
  char bare[600], theirs[600];
  path_of(bare, "bare.h5");
  path_of(theirs, "theirs.h5");
  ck_assert_int_eq(rs_archive_probe(bare, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_INCOMPLETE);
  ck_assert_int_eq(rs_archive_probe(theirs, &st), RS_OK);
  ck_assert_int_eq(st, RS_ARCHIVE_FOREIGN);
  rs_archive *a = NULL;
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, p, g_desc, &g_info, &a), RS_EARCHIVE);
  ck_assert_ptr_nonnull(strstr(rs_error_message(), "incomplete"));
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, e, g_desc, &g_info, &a), RS_EARCHIVE);
  ck_assert_int_eq(rs_archive_open(MPI_COMM_WORLD, t, g_desc, &g_info, &a), RS_EARCHIVE);
  ck_assert_ptr_null(a);
  MPI_Barrier(MPI_COMM_WORLD); /* every rank probed before files change */
  /* what `run --resume` does with each */
  bool created = false;
  ck_assert_int_eq(rs_archive_open_or_create(MPI_COMM_WORLD, theirs, g_desc, &g_info, true, &a, &created), RS_EARCHIVE);
  ck_assert_ptr_nonnull(strstr(rs_error_message(), "not a ranksweep archive"));
  ck_assert_int_eq(rs_archive_open_or_create(MPI_COMM_WORLD, t, g_desc, &g_info, true, &a, &created), RS_EARCHIVE);
  ck_assert_int_eq(rs_archive_open_or_create(MPI_COMM_WORLD, full, g_desc, &g_info, false, &a, &created), RS_EEXISTS);
  const char *again[3] = {p, e, bare};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(rs_archive_open_or_create(MPI_COMM_WORLD, again[i], g_desc, &g_info, true, &a, &created), RS_OK);
    ck_assert(created);
    ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  }
  ck_assert_int_eq(rs_archive_open_or_create(MPI_COMM_WORLD, p, g_desc, &g_info, true, &a, &created), RS_OK);
  ck_assert(!created);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
}
END_TEST

START_TEST(merge_equals_single) {
  char p1[600], p2[600], m[600], full[600], bad[600];
  path_of(p1, "slice1.h5");
  path_of(p2, "slice2.h5");
  path_of(m, "merged.h5");
  path_of(full, "full.h5");
  path_of(bad, "otherjob.h5");
  rs_archive *a = NULL;
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p1, g_desc, &g_info, &a), RS_OK);
  fill(a, 5);
  ck_assert_int_eq(rs_archive_finalize(a, false), RS_OK);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, p2, g_desc, &g_info, &a), RS_OK);
  fill(a, 2);
  ck_assert_int_eq(rs_archive_finalize(a, false), RS_OK);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  ck_assert_int_eq(rs_archive_create(MPI_COMM_WORLD, bad, g_desc2, &g_info, &a), RS_OK);
  ck_assert_int_eq(rs_archive_close(&a), RS_OK);
  if (g_rank == 0) {
    const char *in[2] = {p1, p2};
    int mrc = rs_archive_merge(m, 2, in);
    ck_assert_msg(mrc == RS_OK, "merge: %s", rs_error_message());
    char cmd[4096];
    const char *src = getenv("RANKSWEEP_SOURCE_ROOT");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/e2e/compare_archives.py %s %s", src ? src : ".", full, m);
    ck_assert_int_eq(system(cmd), 0);
    /* and the slices alone differ from the whole */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/e2e/compare_archives.py %s %s > /dev/null",
             src ? src : ".", full, p1);
    ck_assert_int_ne(system(cmd), 0);
    const char *mixed[2] = {p1, bad};
    char m2[600];
    path_of(m2, "merged2.h5");
    ck_assert_int_eq(rs_archive_merge(m2, 2, mixed), RS_EARCHIVE);
    ck_assert_ptr_nonnull(strstr(rs_error_message(), "job_hash"));
    ck_assert_int_eq(access(m2, F_OK), -1);
    /* the serial read API (`show`) reads it back without MPI */
    rs_archive *r = NULL;
    ck_assert_int_eq(rs_archive_open_read(m, &r), RS_OK);
    rs_archive_header h;
    ck_assert_int_eq(rs_archive_header_get(r, &h), RS_OK);
    ck_assert_str_eq(h.job_name, "archive-test");
    ck_assert(h.complete && h.has_provenance && h.version == 2);
    char **names = NULL;
    ck_assert_int_eq(rs_archive_run_names(r, &names), RS_OK);
    ck_assert_str_eq(names[1], "lr=0.01");
    free(names);
    rs_archive_dims d;
    rs_archive_dims_get(r, &d);
    double *mean = malloc(sizeof *mean * (size_t)(d.nckpt * d.nlayers * (d.neps + 1)));
    ck_assert_int_eq(rs_archive_run_means(r, 1, mean), RS_OK);
    for (int c = 0; c < syn_nckpt[1]; c++) /* layer 1, eps 0: every point written */
      ck_assert(isfinite(mean[(c * d.nlayers + 0) * (d.neps + 1) + 0]));
    free(mean);
    rs_ckpt_metrics met;
    ck_assert_int_eq(rs_archive_read_metrics(r, 1, 2, &met), RS_OK);
    ck_assert(met.train_loss == syn_metric(1, 2, 0) && met.heldout_acc == syn_metric(1, 2, 3));
    ck_assert_int_eq(rs_archive_close(&r), RS_OK);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_info.nranks = g_size;
  if (g_rank == 0) {
    snprintf(g_dir, sizeof g_dir, "%s/rs-archive-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  syn_runs(g_runs);
  g_desc = syn_desc(&g_syn, g_runs, false);
  g_desc2 = syn_desc(&g_syn2, g_runs, true);
  Suite *s = suite_create("archive-mpi");
  TCase *tc = tcase_create("archive");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, create_write_finalize);
  tcase_add_test(tc, partial_and_resume);
  tcase_add_test(tc, refusals);
  tcase_add_test(tc, state_slots);
  tcase_add_test(tc, probe_and_incomplete);
  tcase_add_test(tc, merge_equals_single);
  suite_add_tcase(s, tc);
  int any = rs_check_run_mpi(s, CK_NORMAL);
  if (g_rank == 0) {
    if (any == 0 && !getenv("RS_KEEP")) {
      char cmd[600];
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
      if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    } else {
      fprintf(stderr, "archive test files kept in %s (%d failures on the worst rank)\n", g_dir, any);
    }
  }
  MPI_Finalize();
  return any ? 1 : 0;
}
