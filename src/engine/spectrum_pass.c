/* The representation-spectrum pass: for stored weight snapshots of an archive,
 * the singular values of each layer's centred representation matrix H (points
 * x width), distributed over a BLACS grid of all ranks (ScaLAPACK pdgesvd),
 * and their summaries, stored under /spectrum next to the local ranks
 * through the archive's API (rs_archive.h). */
#include "ranksweep/rs_spectrum_pass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_ib.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum.h"

void rs_spectrum_opts_default(rs_spectrum_opts *o) {
  memset(o, 0, sizeof *o);
  o->points = RS_SPECTRUM_POINTS_TRAIN;
  o->repr = RS_REPR_POST;
  o->final_only = true;
}

/* Every rank leaves each collective step together, with the lowest failing
 * rank's error (rs_comm_agree). */
static int rs__agree(MPI_Comm comm, int err) { return rs_comm_agree(comm, err); }

/* The points the spectrum is taken over, for run cfg. */
static int rs__points(const rs_config *cfg, const rs_spectrum_opts *o, rs_dataset **data,
                      const double **x, int *n) {
  rs_config c = *cfg;
  if (o->points == RS_SPECTRUM_POINTS_COUNT) {
    /* A fresh draw of COUNT training points from the run's data source. */
    c.data.train_size = o->count;
    if ((c.data.kind == RS_DATA_IDX || c.data.kind == RS_DATA_NPY) && c.data.heldout_images[0] == '\0') {
      /* Let the held-out subset come from the same file (overlap is harmless
       * here), so that the whole file can be used as training points. */
      snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", c.data.images);
      snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", c.data.labels);
    }
  }
  RS_CALL(rs_dataset_create(&c, data));
  if (o->points == RS_SPECTRUM_POINTS_EVAL) {
    *x = (*data)->xeval;
    *n = (*data)->neval;
  } else {
    *x = (*data)->xtrain;
    *n = (*data)->ntrain;
  }
  return RS_OK;
}

/* The padded sizes and coordinates of the pass's /spectrum over the runs of
 * job (the same on every rank). */
static void rs__spec(const rs_job *job, const rs_spectrum_opts *o, rs_archive_spectrum_spec *p,
                     double *eps, double *noise) {
  int R = rs_job_nruns(job);
  /* Largest spectrum: min(points, width) over runs and layers. */
  int64_t K = 1, NN = 1, E = 1;
  for (int r = 0; r < R; r++) {
    const rs_config *cfg = rs_job_run(job, r);
    int64_t np = o->points == RS_SPECTRUM_POINTS_COUNT ? o->count
                 : o->points == RS_SPECTRUM_POINTS_EVAL ? cfg->measure.points
                                                        : cfg->data.train_size;
    rs_run_shape sh;
    rs_config_shape(cfg, NULL, &sh); /* the widths do not depend on the data set */
    for (int l = 0; l < sh.nmeasured; l++) {
      int64_t k = np < sh.widths[l] ? np : sh.widths[l];
      if (k > K) K = k;
    }
    if (cfg->measure.nnoise > NN) NN = cfg->measure.nnoise;
    if (cfg->measure.neps > E) E = cfg->measure.neps;
  }
  /* the thresholds and noise levels when every run shares them, else NaN */
  const rs_config *c0 = rs_job_run(job, 0);
  bool same_e = true, same_n = true;
  for (int r = 1; r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    same_e &= c->measure.neps == c0->measure.neps &&
              !memcmp(c->measure.eps, c0->measure.eps, sizeof(double) * (size_t)c0->measure.neps);
    same_n &= c->measure.nnoise == c0->measure.nnoise &&
              !memcmp(c->measure.noise, c0->measure.noise, sizeof(double) * (size_t)c0->measure.nnoise);
  }
  for (int64_t i = 0; i < E; i++) eps[i] = same_e && i < c0->measure.neps ? c0->measure.eps[i] : NAN;
  for (int64_t i = 0; i < NN; i++) noise[i] = same_n && i < c0->measure.nnoise ? c0->measure.noise[i] : NAN;
  *p = (rs_archive_spectrum_spec){
      .points = o->points == RS_SPECTRUM_POINTS_EVAL    ? "eval"
                : o->points == RS_SPECTRUM_POINTS_TRAIN ? "train"
                                                        : "count",
      .repr = o->repr == RS_REPR_PRE ? "pre" : "post",
      .count = o->points == RS_SPECTRUM_POINTS_COUNT ? o->count : -1,
      .nspectrum = K,
      .neps = E,
      .nnoise = NN,
      .eps = eps,
      .noise = noise};
}

/* Whether i is in the selection list (an empty list selects everything). */
static bool rs__selected(int n, const int *list, int i) {
  bool sel = n == 0;
  for (int k = 0; k < n; k++) sel |= list[k] == i;
  return sel;
}

int rs_spectrum_pass(MPI_Comm comm, const char *path, const rs_spectrum_opts *o) {
  int rank, size;
  RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
  RS_CALL_MPI(MPI_Comm_size(comm, &size));
  int err = RS_OK;
  rs_job *job = NULL;
  rs_pgrid *grid = NULL;
  rs_archive *ar = NULL;
  rs_archive_snapshots snap = {0};
  uint8_t *sdone = NULL;
  char *text = NULL;
  double *params = NULL, *s = NULL;

  /* Opened collectively (MPI-IO): the structure below is created collectively. */
  if ((err = rs__agree(comm, rs_archive_open_update(comm, path, &ar))) != RS_OK) goto out;
  rs_archive_dims dm;
  rs_archive_dims_get(ar, &dm);
  int64_t R = dm.nruns, C = dm.nckpt, L = dm.nlayers, NP = dm.nparams;
  if (R <= 0 || C <= 0 || L <= 0) {
    err = rs_error(RS_EARCHIVE, "%s: not a ranksweep archive (no n_runs/n_ckpt/n_layers)", path);
    goto out;
  }
  if (NP <= 0) {
    err = rs_error(RS_EARCHIVE,
                   "%s: no weight snapshots stored (measure.save_weights: none); the "
                   "spectrum pass needs final or all",
                   path);
    goto out;
  }
  /* The job file inside the archive gives every run's configuration. */
  if ((err = rs_archive_job_text(ar, &text)) != RS_OK) goto out;
  if ((err = rs_job_parse(text, strlen(text), path, &job)) != RS_OK) goto out;
  if (rs_job_nruns(job) != R) {
    err = rs_error(RS_EARCHIVE, "%s: job text expands to %d runs, archive has %lld", path,
                   rs_job_nruns(job), (long long)R);
    goto out;
  }
  /* A selection naming a run or checkpoint the archive does not have is the
   * user's mistake: say so instead of computing nothing. */
  for (int i = 0; i < o->nruns && err == RS_OK; i++)
    if (o->runs[i] < 0 || o->runs[i] >= R)
      err = rs_error(RS_EARG, "spectrum: --runs: run %d out of range (%s has runs 0..%lld)",
                     o->runs[i], path, (long long)R - 1);
  for (int i = 0; i < o->nckpts && err == RS_OK; i++)
    if (o->ckpts[i] < 0 || o->ckpts[i] >= C)
      err = rs_error(RS_EARG,
                     "spectrum: --checkpoints: checkpoint %d out of range (%s has checkpoints 0..%lld)",
                     o->ckpts[i], path, (long long)C - 1);
  if (err != RS_OK) goto out;
  if ((err = rs_archive_snapshots_read(ar, &snap)) != RS_OK) goto out;

  /* Structure: created once (collectively), reused by later passes with the
   * same settings so an interrupted pass resumes. */
  rs_archive_spectrum_spec spec;
  double eps[RS_MAX_EPS + 1], noise[RS_MAX_NOISE + 1];
  rs__spec(job, o, &spec, eps, noise);
  int64_t K = spec.nspectrum;
  sdone = calloc((size_t)(R * C * L), 1);
  if (!sdone) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto out;
  }
  if ((err = rs_archive_spectrum_open(ar, &spec, sdone)) != RS_OK) goto out;

  if ((err = rs_pgrid_create(comm, 0, 0, &grid)) != RS_OK) goto out;
  params = malloc(sizeof *params * (size_t)(NP > 0 ? NP : 1));
  s = malloc(sizeof *s * (size_t)K);
  if (!params || !s) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto out;
  }
  double t_all = rs__now();
  int ndone = 0;
  for (int r = 0; r < R && err == RS_OK; r++) {
    if (!rs__selected(o->nruns, o->runs, r) || !snap.run_done[r]) continue;
    const rs_config *cfg = rs_job_run(job, r);
    rs_run_shape sh;
    rs_config_shape(cfg, NULL, &sh);
    rs_dataset *data = NULL;
    const double *x = NULL;
    int np = 0;
    bool data_ready = false;
    for (int c = 0; c < snap.nckpt[r] && err == RS_OK; c++) {
      bool is_final = snap.steps[r * C + c] == snap.last_step[r] && snap.final[r];
      bool have_all = snap.all[r * C + c] != 0;
      if (o->final_only ? !is_final : !(is_final || have_all)) continue;
      if (!rs__selected(o->nckpts, o->ckpts, c)) continue;
      bool all_done = true;
      for (int l = 0; l < L; l++) all_done &= sdone[(r * C + c) * L + l] || l >= sh.nmeasured;
      if (all_done) continue;
      if (!data_ready) {
        err = rs__agree(comm, rs__points(cfg, o, &data, &x, &np));
        if (err != RS_OK) break;
        data_ready = true;
      }
      err = rs__agree(comm, rs_archive_read_weights(ar, r, have_all ? c : -1, params, snap.nparams[r]));
      if (err != RS_OK) break;
      rs_netview v;
      if ((err = rs__agree(comm, rs_netview_from_params(cfg, data, params, &v))) != RS_OK) break;
      if (v.nmeasure != sh.nmeasured) {
        err = rs_error(RS_EINTERNAL, "run %d: the model has %d measured layers, its shape %d", r,
                       v.nmeasure, sh.nmeasured);
        break;
      }
      for (int l = 1; l <= v.nmeasure && err == RS_OK; l++) {
        if (sdone[(r * C + c) * L + l - 1]) continue;
        int k = np < v.sizes[l] ? np : v.sizes[l];
        double t0 = rs__now();
        err = rs__agree(comm, rs_spectrum_layer(grid, &v, l, o->repr, x, np, 0, s));
        if (err != RS_OK) break;
        ndone++;
        if (!o->quiet && rank == 0)
          fprintf(stderr, "spectrum: run %d checkpoint %d (step %lld) layer %d: %d x %d in %.2f s\n",
                  r, c, (long long)snap.steps[r * C + c], l, np, v.sizes[l], rs__now() - t0);
        if (rank == 0) {
          int32_t fr[RS_MAX_EPS];
          double ip[RS_MAX_NOISE];
          for (int e = 0; e < cfg->measure.neps; e++)
            fr[e] = rs_ib_feature_rank(s, k, np, cfg->measure.eps[e]);
          for (int q = 0; q < cfg->measure.nnoise; q++)
            ip[q] = rs_ib_gauss_channel(s, k, np, cfg->measure.noise[q]);
          rs_archive_layer_spectrum ls = {k, s, cfg->measure.neps, fr, rs_ib_effective_rank(s, k),
                                          cfg->measure.nnoise, ip, np};
          err = rs_archive_write_spectrum(ar, r, c, l, &ls);
        }
        err = rs__agree(comm, err);
      }
    }
    rs_dataset_destroy(&data);
  }
  if (!o->quiet && rank == 0 && err == RS_OK)
    fprintf(stderr, "spectrum: %d layer spectra on %d ranks in %.2f s\n", ndone, size,
            rs__now() - t_all);
out:
  err = rs__agree(comm, err);
  rs_archive_snapshots_free(&snap);
  free(sdone);
  free(text);
  free(params);
  free(s);
  if (grid) rs_pgrid_destroy(&grid);
  if (ar) {
    int cerr = rs__agree(comm, rs_archive_close(&ar));
    if (err == RS_OK) err = cerr;
  }
  rs_job_destroy(&job);
  return err;
}
