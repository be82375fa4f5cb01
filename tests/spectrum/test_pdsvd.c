/* MPI tests of the distributed spectrum (run under mpirun -np 1, 2, 4): every
 * process grid that fits the ranks, tall, wide and square matrices with sizes
 * that are not multiples of the block, against LAPACK dgesdd on the full
 * matrix, with and without the QR/LQ reduction; the fill callback, centring,
 * and agreement between grid shapes.
 * Asserts come after the collectives so a failure cannot deadlock the rest. */
#include <check.h>
#include "../rs_check_mpi.h"
#include <lapacke.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_rng.h"
#include "ranksweep/rs_spectrum.h"

static int g_rank, g_size;

/* Matrix entries depend only on (seed, global row): exactly what a caller
 * computing rows of H from its share of the data does. Columns get different
 * scales and an offset so that centring and a wide spectrum are exercised. */
typedef struct {
  uint64_t seed;
  int n;
  int rank_deficient; /* columns j >= 3 copy column j % 3: rank 3 */
  int calls, bad_row; /* bad_row >= 0: fail on the block containing it */
} rows_ctx;

static int make_rows(void *vctx, int row0, int nrows, double *out) {
  rows_ctx *c = vctx;
  c->calls++;
  if (c->bad_row >= row0 && c->bad_row < row0 + nrows)
    return rs_error(RS_EDATA, "row %d: deliberately unreadable", c->bad_row);
  for (int i = 0; i < nrows; i++) {
    rs_rng r;
    rs_rng_init(&r, c->seed, RS_STREAM_DATA, (uint32_t)(row0 + i));
    for (int j = 0; j < c->n; j++) {
      double v = rs_rng_normal(&r) * exp(-0.15 * j) + 0.5 * j;
      if (c->rank_deficient && j >= 3) v = out[(size_t)i * c->n + j % 3];
      out[(size_t)i * c->n + j] = v;
    }
  }
  return RS_OK;
}

static double *full_matrix(rows_ctx *c, int m) {
  double *a = malloc((size_t)m * c->n * sizeof *a);
  ck_assert_int_eq(make_rows(c, 0, m, a), RS_OK);
  return a;
}

/* The grids that fit the current number of ranks, in a fixed order. */
static int grids(int size, int shapes[][2]) {
  int k = 0;
  for (int r = 1; r <= size; r++)
    if (size % r == 0) {
      shapes[k][0] = r;
      shapes[k][1] = size / r;
      k++;
    }
  return k;
}

/* max over ranks of a local value */
static double all_max(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return v;
}

START_TEST(grid_shape_choice) {
  int r, c;
  const int cases[][3] = {{1, 1, 1}, {2, 2, 1}, {4, 2, 2}, {6, 3, 2}, {7, 7, 1}, {12, 4, 3}, {16, 4, 4}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    rs_pgrid_shape(cases[k][0], &r, &c);
    ck_assert_msg(r == cases[k][1] && c == cases[k][2], "P = %d: %d x %d", cases[k][0], r, c);
  }
  rs_pgrid *g = NULL;
  ck_assert_int_eq(rs_pgrid_create(MPI_COMM_WORLD, g_size + 1, 1, &g), RS_EARG);
  ck_assert_ptr_null(g);
  ck_assert_int_eq(rs_pgrid_create(MPI_COMM_WORLD, 0, 0, &g), RS_OK);
  int nprow, npcol, myrow, mycol;
  rs_pgrid_info(g, &nprow, &npcol, &myrow, &mycol);
  ck_assert_int_eq(nprow * npcol, g_size);
  ck_assert_int_eq(myrow * npcol + mycol, g_rank); /* row-major rank order */
  rs_pgrid_destroy(&g);
  ck_assert_ptr_null(g);
}
END_TEST

/* One matrix on every fitting grid: fill, gather, centre and SVD; compare
 * with the serial computation and between grids. */
static void check_matrix(int m, int n, int nb, int deficient) {
  int shapes[16][2], ng = grids(g_size, shapes);
  int k = m < n ? m : n;
  rows_ctx c = {.seed = (uint64_t)(1000 * m + n), .n = n, .rank_deficient = deficient, .bad_row = -1};
  double *ref = full_matrix(&c, m);
  /* Serial reference: centre, then dgesdd. */
  double *cen = malloc((size_t)m * n * sizeof *cen), *mu = calloc((size_t)n, sizeof *mu);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) mu[j] += ref[(size_t)i * n + j] / m;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) cen[(size_t)i * n + j] = ref[(size_t)i * n + j] - mu[j];
  double *sref = malloc((size_t)k * sizeof *sref), *tmp = malloc((size_t)m * n * sizeof *tmp);
  memcpy(tmp, cen, (size_t)m * n * sizeof *tmp);
  ck_assert_int_eq(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', m, n, tmp, n, sref, NULL, m, NULL, n), 0);

  double *sfirst = malloc((size_t)k * sizeof *sfirst);
  double *s = malloc((size_t)k * sizeof *s), *got = malloc((size_t)m * n * sizeof *got);
  double *means = malloc((size_t)n * sizeof *means);
  /* Each grid twice: plain pdgesvd, and after the QR/LQ reduction. */
  const int flags[2] = {RS_PDSVD_NO_REDUCE, RS_PDSVD_FORCE_REDUCE};
  for (int run = 0; run < 2 * ng; run++) {
    int gi = run / 2, fl = flags[run % 2];
    rs_pgrid *g = NULL;
    rs_pmat *a = NULL;
    ck_assert_int_eq(rs_pgrid_create(MPI_COMM_WORLD, shapes[gi][0], shapes[gi][1], &g), RS_OK);
    ck_assert_int_eq(rs_pmat_create(g, m, n, nb, &a), RS_OK);
    c.calls = 0;
    int err = rs_pmat_fill_rows(a, make_rows, &c);
    /* Fill: the gathered matrix is the serial one, bit for bit. */
    ck_assert_int_eq(rs_pmat_gather(a, got), RS_OK);
    double fill_diff = 0;
    for (size_t t = 0; t < (size_t)m * n; t++) fill_diff = fmax(fill_diff, fabs(got[t] - ref[t]));
    ck_assert_int_eq(rs_pmat_center_columns(a, means), RS_OK);
    ck_assert_int_eq(rs_pmat_gather(a, got), RS_OK);
    double cen_diff = 0, mean_diff = 0;
    for (size_t t = 0; t < (size_t)m * n; t++) cen_diff = fmax(cen_diff, fabs(got[t] - cen[t]));
    for (int j = 0; j < n; j++) mean_diff = fmax(mean_diff, fabs(means[j] - mu[j]));
    int sv_err = rs_pdsvd_values_opt(a, s, fl);
    double sv_diff = 0, grid_diff = 0, spread = 0;
    for (int i = 0; i < k; i++) {
      sv_diff = fmax(sv_diff, fabs(s[i] - sref[i]));
      if (run > 0) grid_diff = fmax(grid_diff, fabs(s[i] - sfirst[i]));
      if (i > 0) ck_assert_msg(s[i] <= s[i - 1], "not descending at %d", i);
    }
    /* Bit-identical on every rank. */
    for (int i = 0; i < k; i++) spread = fmax(spread, all_max(s[i]) - s[i]);
    fill_diff = all_max(fill_diff);
    cen_diff = all_max(cen_diff);
    spread = all_max(spread);
    int nprow, npcol;
    rs_pgrid_info(g, &nprow, &npcol, NULL, NULL);
    rs_pmat_destroy(&a);
    rs_pgrid_destroy(&g);

    double scale = sref[0];
    ck_assert_int_eq(err, RS_OK);
    ck_assert_int_eq(sv_err, RS_OK);
    ck_assert_msg(fill_diff == 0.0, "%dx%d on %dx%d: fill differs by %g", m, n, nprow, npcol, fill_diff);
    ck_assert_msg(cen_diff <= 1e-13 * scale && mean_diff <= 1e-13 * scale,
                  "%dx%d on %dx%d: centring differs by %g / means by %g", m, n, nprow, npcol,
                  cen_diff, mean_diff);
    ck_assert_msg(sv_diff <= 1e-10 * scale,
                  "%dx%d nb %d on %dx%d, flags %d: pdgesvd vs dgesdd max diff %g (s_max %g)", m,
                  n, nb, nprow, npcol, fl, sv_diff, scale);
    ck_assert_msg(grid_diff <= 1e-10 * scale,
                  "%dx%d: grid %dx%d flags %d differs from grid %dx%d plain by %g", m, n, nprow,
                  npcol, fl, shapes[0][0], shapes[0][1], grid_diff);
    ck_assert_msg(spread == 0.0, "singular values differ across ranks by %g", spread);
    if (deficient) /* rank 3: the rest vanish up to rounding */
      for (int i = 3; i < k; i++) ck_assert_msg(s[i] <= 1e-12 * scale, "s[%d] = %g", i, s[i]);
    if (run == 0) memcpy(sfirst, s, (size_t)k * sizeof *s);
  }
  free(ref);
  free(cen);
  free(mu);
  free(sref);
  free(tmp);
  free(sfirst);
  free(s);
  free(got);
  free(means);
}

START_TEST(tall) {
  check_matrix(150, 37, 0, 0);  /* default block 64: 150 = 2*64 + 22 */
  check_matrix(301, 45, 16, 0); /* many blocks per rank */
}
END_TEST

START_TEST(wide) {
  check_matrix(41, 130, 0, 0);
  check_matrix(29, 203, 8, 0);
}
END_TEST

START_TEST(square) {
  check_matrix(96, 96, 0, 0);
  check_matrix(77, 77, 16, 0);
  check_matrix(5, 5, 0, 0); /* smaller than one block: some ranks hold nothing */
}
END_TEST

START_TEST(rank_deficient) {
  check_matrix(120, 20, 16, 1);
}
END_TEST

START_TEST(callback_error_propagates) {
  rs_pgrid *g = NULL;
  rs_pmat *a = NULL;
  ck_assert_int_eq(rs_pgrid_create(MPI_COMM_WORLD, 0, 0, &g), RS_OK);
  ck_assert_int_eq(rs_pmat_create(g, 200, 10, 16, &a), RS_OK);
  rows_ctx c = {.seed = 1, .n = 10, .bad_row = 100};
  int err = rs_pmat_fill_rows(a, make_rows, &c);
  int nprow, myrow, ncols;
  rs_pgrid_info(g, &nprow, NULL, &myrow, NULL);
  rs_pmat_local(a, NULL, &ncols, NULL);
  /* Row 100 sits in block 6 (rows 96..111), owned by process row 6 % nprow;
   * a rank holding no columns has nothing to compute. */
  int owner = myrow == 6 % nprow && ncols > 0;
  int ok = err == (owner ? RS_EDATA : RS_OK) &&
           (!owner || strstr(rs_error_message(), "row 100") != NULL);
  long total = (long)rs_pmat_local_bytes(a);
  MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  /* A zero-sized matrix is refused on every rank alike. */
  rs_pmat *z = NULL;
  int zerr = rs_pmat_create(g, 0, 10, 16, &z);
  rs_pmat_destroy(&a);
  rs_pgrid_destroy(&g);
  ck_assert_msg(ok, "a rank saw the wrong outcome of a failing callback (rank %d: %s)", g_rank,
                rs_err_name(err));
  /* Storage is distributed, not replicated: exactly M x N doubles in total. */
  ck_assert_int_eq(total, 200L * 10 * 8);
  ck_assert_int_eq(zerr, RS_EARG);
  ck_assert_ptr_null(z);
}
END_TEST

/* A small network's layer spectra against the serial route: forward pass
 * on all points, activation, centring, dgesdd. */
START_TEST(layer_spectrum) {
  const int sizes[5] = {12, 30, 20, 25, 5}, npts = 150;
  const rs_activation acts[2] = {RS_ACT_RELU, RS_ACT_TANH};
  double *wb[10], *x = malloc(sizeof(double) * npts * sizes[0]);
  rs_rng r;
  rs_rng_init(&r, 3, RS_STREAM_INIT, 0);
  for (int i = 0; i < npts * sizes[0]; i++) x[i] = rs_rng_normal(&r);
  rs_netview net = {.nlayers = 4, .nmeasure = 3};
  for (int l = 0; l <= 4; l++) net.sizes[l] = sizes[l];
  for (int l = 1; l <= 4; l++) {
    wb[2 * l - 2] = malloc(sizeof(double) * sizes[l] * sizes[l - 1]);
    wb[2 * l - 1] = malloc(sizeof(double) * sizes[l]);
    for (int i = 0; i < sizes[l] * sizes[l - 1]; i++)
      wb[2 * l - 2][i] = rs_rng_normal(&r) / sqrt(sizes[l - 1]);
    for (int i = 0; i < sizes[l]; i++) wb[2 * l - 1][i] = 0.1 * rs_rng_normal(&r);
    net.W[l] = wb[2 * l - 2];
    net.b[l] = wb[2 * l - 1];
  }
  rs_pgrid *g = NULL;
  ck_assert_int_eq(rs_pgrid_create(MPI_COMM_WORLD, 0, 0, &g), RS_OK);
  double worst = 0, s[30], sref[30], *pre[5] = {0}, *h = malloc(sizeof(double) * npts * 30);
  for (int l = 1; l <= 4; l++) pre[l] = malloc(sizeof(double) * npts * sizes[l]);
  int errs = 0, post_eq_pre_linear_head = 1;
  for (int a = 0; a < 2; a++) {
    net.act = acts[a];
    net.last_measured_linear = a == 1; /* tanh net: layer 3 plays a VIB mean head */
    ck_assert_int_eq(rs_netview_forward(&net, x, npts, NULL, pre), RS_OK);
    for (int l = 1; l <= 4; l++)
      for (int kind = 0; kind < 2; kind++) {
        int w = sizes[l], k = w < npts ? w : npts;
        int act_follows = kind == RS_REPR_POST && l < 4 && !(net.last_measured_linear && l == 3);
        for (int i = 0; i < npts * w; i++) {
          double v = pre[l][i];
          h[i] = !act_follows ? v : a == 0 ? (v > 0 ? v : 0) : tanh(v);
        }
        for (int j = 0; j < w; j++) {
          double mu = 0;
          for (int i = 0; i < npts; i++) mu += h[i * w + j] / npts;
          for (int i = 0; i < npts; i++) h[i * w + j] -= mu;
        }
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', npts, w, h, w, sref, NULL, npts, NULL, w);
        errs += rs_spectrum_layer(g, &net, l, (rs_repr_kind)kind, x, npts, 16, s) != RS_OK;
        for (int i = 0; i < k; i++) worst = fmax(worst, fabs(s[i] - sref[i]) / sref[0]);
      }
    if (a == 1) { /* the linear head: POST must equal PRE bit for bit */
      double sp[20], sq[20];
      errs += rs_spectrum_layer(g, &net, 3, RS_REPR_PRE, x, npts, 16, sp) != RS_OK;
      errs += rs_spectrum_layer(g, &net, 3, RS_REPR_POST, x, npts, 16, sq) != RS_OK;
      post_eq_pre_linear_head = memcmp(sp, sq, sizeof sp) == 0;
    }
  }
  int bad_layer = rs_spectrum_layer(g, &net, 5, RS_REPR_PRE, x, npts, 16, s);
  /* A non-finite input on one point: the rank owning it fails, and every
   * other rank returns an error too instead of waiting in a collective. */
  x[100 * sizes[0] + 3] = NAN;
  int nan_err = rs_spectrum_layer(g, &net, 2, RS_REPR_POST, x, npts, 16, s);
  int nan_all = nan_err != RS_OK;
  MPI_Allreduce(MPI_IN_PLACE, &nan_all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  rs_pgrid_destroy(&g);
  for (int l = 1; l <= 4; l++) free(pre[l]);
  for (int i = 0; i < 8; i++) free(wb[i]);
  free(h);
  free(x);
  ck_assert_int_eq(errs, 0);
  ck_assert_msg(worst <= 1e-10, "layer spectra differ from the serial route by %g of s_max", worst);
  ck_assert(post_eq_pre_linear_head);
  ck_assert_int_eq(bad_layer, RS_EARG);
  ck_assert_msg(nan_all, "a non-finite point did not fail on every rank (here: %s)",
                rs_err_name(nan_err));
  ck_assert_int_eq(nan_err, RS_EDATA);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  Suite *s = suite_create("spectrum");
  TCase *tc = tcase_create("pdsvd");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, grid_shape_choice);
  tcase_add_test(tc, tall);
  tcase_add_test(tc, wide);
  tcase_add_test(tc, square);
  tcase_add_test(tc, rank_deficient);
  tcase_add_test(tc, callback_error_propagates);
  tcase_add_test(tc, layer_spectrum);
  suite_add_tcase(s, tc);
  int failed = rs_check_run_mpi(s, CK_NORMAL); /* every rank reports its own failures */
  if (g_rank == 0) printf("ranks: %d, failures on the worst rank: %d\n", g_size, failed);
  MPI_Finalize();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
