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

/* The state of one pass, the same on every rank except what rank 0 alone
 * prints and writes. */
typedef struct {
  MPI_Comm comm;
  int rank, size;
  const char *path;
  const rs_spectrum_opts *o;
  rs_job *job;
  rs_pgrid *grid;
  rs_archive *ar;
  rs_archive_snapshots snap;
  uint8_t *sdone; /* [R][C][L]: the layer spectra already stored */
  char *text;
  double *params, *s;
  int64_t R, C, L, NP, K;
  int ndone;
} rs__pass;

/* The points of one run, made at its first checkpoint that needs them. */
typedef struct {
  rs_dataset *data;
  const double *x;
  int np;
  bool ready;
} rs__pass_points;

/* Collective: opens the archive, checks it holds weight snapshots, parses the
 * job stored in it, checks the selection and reads the snapshots' table. */
static int rs__pass_open(rs__pass *P) {
  const rs_spectrum_opts *o = P->o;
  const char *path = P->path;
  /* Opened collectively (MPI-IO): the structure below is created collectively. */
  RS_CALL(rs__agree(P->comm, rs_archive_open_update(P->comm, path, &P->ar)));
  rs_archive_dims dm;
  rs_archive_dims_get(P->ar, &dm);
  int64_t R = P->R = dm.nruns, C = P->C = dm.nckpt, L = P->L = dm.nlayers;
  P->NP = dm.nparams;
  if (R <= 0 || C <= 0 || L <= 0)
    return rs_error(RS_EARCHIVE, "%s: not a ranksweep archive (no n_runs/n_ckpt/n_layers)", path);
  if (P->NP <= 0)
    return rs_error(RS_EARCHIVE,
                    "%s: no weight snapshots stored (measure.save_weights: none); the "
                    "spectrum pass needs final or all",
                    path);
  /* The job file inside the archive gives every run's configuration. */
  RS_CALL(rs_archive_job_text(P->ar, &P->text));
  RS_CALL(rs_job_parse(P->text, strlen(P->text), path, &P->job));
  if (rs_job_nruns(P->job) != R)
    return rs_error(RS_EARCHIVE, "%s: job text expands to %d runs, archive has %lld", path,
                    rs_job_nruns(P->job), (long long)R);
  /* A selection naming a run or checkpoint the archive does not have is the
   * user's mistake: say so instead of computing nothing. */
  for (int i = 0; i < o->nruns; i++)
    if (o->runs[i] < 0 || o->runs[i] >= R)
      return rs_error(RS_EARG, "spectrum: --runs: run %d out of range (%s has runs 0..%lld)",
                      o->runs[i], path, (long long)R - 1);
  for (int i = 0; i < o->nckpts; i++)
    if (o->ckpts[i] < 0 || o->ckpts[i] >= C)
      return rs_error(RS_EARG,
                      "spectrum: --checkpoints: checkpoint %d out of range (%s has checkpoints 0..%lld)",
                      o->ckpts[i], path, (long long)C - 1);
  return rs_archive_snapshots_read(P->ar, &P->snap);
}

/* Collective: /spectrum created once (collectively), reused by later passes
 * with the same settings so an interrupted pass resumes; the BLACS grid and
 * the buffers. */
static int rs__pass_prepare(rs__pass *P) {
  rs_archive_spectrum_spec spec;
  double eps[RS_MAX_EPS + 1], noise[RS_MAX_NOISE + 1];
  rs__spec(P->job, P->o, &spec, eps, noise);
  P->K = spec.nspectrum;
  P->sdone = calloc((size_t)(P->R * P->C * P->L), 1);
  if (!P->sdone) return rs_error(RS_ENOMEM, "out of memory");
  RS_CALL(rs_archive_spectrum_open(P->ar, &spec, P->sdone));
  RS_CALL(rs_pgrid_create(P->comm, 0, 0, &P->grid));
  P->params = malloc(sizeof *P->params * (size_t)(P->NP > 0 ? P->NP : 1));
  P->s = malloc(sizeof *P->s * (size_t)P->K);
  if (!P->params || !P->s) return rs_error(RS_ENOMEM, "out of memory");
  return RS_OK;
}

/* Collective: the spectrum of layer l of run r at checkpoint c over the
 * points, and its summaries, written by rank 0. */
static int rs__pass_layer(rs__pass *P, int r, int c, int l, const rs_config *cfg,
                          const rs_netview *v, const rs__pass_points *pts) {
  const rs_spectrum_opts *o = P->o;
  double *s = P->s;
  int np = pts->np, k = np < v->sizes[l] ? np : v->sizes[l];
  double t0 = rs__now();
  RS_CALL(rs__agree(P->comm, rs_spectrum_layer(P->grid, v, l, o->repr, pts->x, np, 0, s)));
  P->ndone++;
  if (!o->quiet && P->rank == 0)
    fprintf(stderr, "spectrum: run %d checkpoint %d (step %lld) layer %d: %d x %d in %.2f s\n", r,
            c, (long long)P->snap.steps[r * P->C + c], l, np, v->sizes[l], rs__now() - t0);
  int err = RS_OK;
  if (P->rank == 0) {
    int32_t fr[RS_MAX_EPS];
    double ip[RS_MAX_NOISE];
    for (int e = 0; e < cfg->measure.neps; e++)
      fr[e] = rs_ib_feature_rank(s, k, np, cfg->measure.eps[e]);
    for (int q = 0; q < cfg->measure.nnoise; q++)
      ip[q] = rs_ib_gauss_channel(s, k, np, cfg->measure.noise[q]);
    rs_archive_layer_spectrum ls = {k, s, cfg->measure.neps, fr, rs_ib_effective_rank(s, k),
                                    cfg->measure.nnoise, ip, np};
    err = rs_archive_write_spectrum(P->ar, r, c, l, &ls);
  }
  return rs__agree(P->comm, err);
}

/* Collective: every layer of run r at checkpoint c that the selection asks
 * for and that is not stored yet. */
static int rs__pass_checkpoint(rs__pass *P, int r, int c, const rs_config *cfg,
                               const rs_run_shape *sh, rs__pass_points *pts) {
  const rs_spectrum_opts *o = P->o;
  const rs_archive_snapshots *snap = &P->snap;
  int64_t C = P->C, L = P->L;
  bool is_final = snap->steps[r * C + c] == snap->last_step[r] && snap->final[r];
  bool have_all = snap->all[r * C + c] != 0;
  if (o->final_only ? !is_final : !(is_final || have_all)) return RS_OK;
  if (!rs__selected(o->nckpts, o->ckpts, c)) return RS_OK;
  bool all_done = true;
  for (int l = 0; l < L; l++) all_done &= P->sdone[(r * C + c) * L + l] || l >= sh->nmeasured;
  if (all_done) return RS_OK;
  if (!pts->ready) {
    RS_CALL(rs__agree(P->comm, rs__points(cfg, o, &pts->data, &pts->x, &pts->np)));
    pts->ready = true;
  }
  RS_CALL(rs__agree(P->comm, rs_archive_read_weights(P->ar, r, have_all ? c : -1, P->params,
                                                     snap->nparams[r])));
  rs_netview v;
  RS_CALL(rs__agree(P->comm, rs_netview_from_params(cfg, pts->data, P->params, &v)));
  if (v.nmeasure != sh->nmeasured)
    return rs_error(RS_EINTERNAL, "run %d: the model has %d measured layers, its shape %d", r,
                    v.nmeasure, sh->nmeasured);
  int err = RS_OK;
  for (int l = 1; l <= v.nmeasure && err == RS_OK; l++)
    if (!P->sdone[(r * C + c) * L + l - 1]) err = rs__pass_layer(P, r, c, l, cfg, &v, pts);
  return err;
}

/* Collective: the selected checkpoints of run r (a finished run). */
static int rs__pass_run(rs__pass *P, int r) {
  const rs_config *cfg = rs_job_run(P->job, r);
  rs_run_shape sh;
  rs_config_shape(cfg, NULL, &sh);
  rs__pass_points pts = {0};
  int err = RS_OK;
  for (int c = 0; c < P->snap.nckpt[r] && err == RS_OK; c++)
    err = rs__pass_checkpoint(P, r, c, cfg, &sh, &pts);
  rs_dataset_destroy(&pts.data);
  return err;
}

int rs_spectrum_pass(MPI_Comm comm, const char *path, const rs_spectrum_opts *o) {
  rs__pass P = {.comm = comm, .path = path, .o = o};
  RS_CALL_MPI(MPI_Comm_rank(comm, &P.rank));
  RS_CALL_MPI(MPI_Comm_size(comm, &P.size));
  int err = rs__pass_open(&P);
  if (err == RS_OK) err = rs__pass_prepare(&P);
  if (err == RS_OK) {
    double t_all = rs__now();
    for (int r = 0; r < P.R && err == RS_OK; r++)
      if (rs__selected(o->nruns, o->runs, r) && P.snap.run_done[r]) err = rs__pass_run(&P, r);
    if (!o->quiet && P.rank == 0 && err == RS_OK)
      fprintf(stderr, "spectrum: %d layer spectra on %d ranks in %.2f s\n", P.ndone, P.size,
              rs__now() - t_all);
  }
  err = rs__agree(comm, err);
  rs_archive_snapshots_free(&P.snap);
  free(P.sdone);
  free(P.text);
  free(P.params);
  free(P.s);
  if (P.grid) rs_pgrid_destroy(&P.grid);
  if (P.ar) {
    int cerr = rs__agree(comm, rs_archive_close(&P.ar));
    if (err == RS_OK) err = cerr;
  }
  rs_job_destroy(&P.job);
  return err;
}
