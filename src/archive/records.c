/* The exact per-run records of a new archive: names, resolved
 * configurations and their hashes, seeds, epochs, evaluation points, data
 * files and the typed grid values. */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Collective. The exact records of every run: resolved configuration and its
 * hash, seed, typed grid values, epochs, evaluation points, data files. */
int rs__write_records(rs_archive *a, const rs_archive_desc *desc) {
  const rs__layout *L = &a->lay;
  const rs_archive_record *rec = desc->records;
  int R = (int)L->R, rc = RS_OK;
  const char **ptr = calloc((size_t)R * RS__NFILES, sizeof *ptr);
  double *num = malloc((size_t)(L->R * (L->C > L->P ? L->C : L->P) + 1) * sizeof(double));
  if (!ptr || !num) {
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
    goto done;
  }
  for (int r = 0; r < R; r++) ptr[r] = rec[r].config;
  rc = rs__write_strings(a->file, a->comm, a->rank, rs__records[R_CONFIG].path, R, ptr);
  for (int r = 0; r < R; r++) ptr[r] = rec[r].config_hash;
  if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, rs__records[R_CONFIG_HASH].path, R, ptr);
  for (int r = 0; r < R; r++)
    for (int f = 0; f < RS__NFILES; f++) ptr[r * RS__NFILES + f] = rec[r].data_sha[f];
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, rs__records[R_DATA_SHA].path, R, RS__NFILES, ptr);
  for (int r = 0; r < R; r++)
    for (int f = 0; f < RS__NFILES; f++) ptr[r * RS__NFILES + f] = rec[r].data_path[f];
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, rs__records[R_DATA_PATH].path, R, RS__NFILES, ptr);
  /* seed, epochs, evaluation points */
  if (rc == RS_OK) {
    hsize_t dim = (hsize_t)R;
    int64_t *seed = (int64_t *)num;
    for (int r = 0; r < R; r++) seed[r] = rec[r].seed;
    hid_t d = rs__dcreate(a->file, rs__records[R_SEED].path, 'l', 1, &dim);
    rc = d < 0 ? rs__h5err(a->path, "create runs/seed")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, seed, rs__records[R_SEED].path);
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->C};
    for (int64_t r = 0; r < L->R; r++)
      for (int64_t k = 0; k < L->C; k++) num[r * L->C + k] = k < L->nckpt[r] ? rec[r].epochs[k] : NAN;
    hid_t d = rs__dcreate(a->file, rs__records[R_EPOCHS].path, 'd', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/epochs")
               : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, rs__records[R_EPOCHS].path);
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK && L->P > 0) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->P};
    int64_t *ev = (int64_t *)num;
    for (int64_t i = 0; i < L->R * L->P; i++) ev[i] = -1;
    /* (read on rank 0 only, which writes the run tables) */
    for (int64_t r = 0; a->rank == 0 && r < L->R; r++)
      if (desc->runs[r].eval_index)
        memcpy(ev + r * L->P, desc->runs[r].eval_index, (size_t)L->npoints[r] * sizeof *ev);
    hid_t d = rs__dcreate(a->file, rs__records[R_EVAL_INDEX].path, 'l', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/eval_index")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, ev, rs__records[R_EVAL_INDEX].path);
    if (d >= 0) H5Dclose(d);
  }
  /* grid axes: format-1 text and parsed values, and the exact typed values */
  for (int ax = 0; rc == RS_OK && ax < desc->naxes; ax++) {
    const rs_archive_axis *x = &desc->axes[ax];
    bool numeric = true;
    for (int r = 0; r < R; r++) numeric &= rs__parse_num(x->text[r], &num[r]);
    char p1[RS_PATH_MAX], p2[RS_PATH_MAX], p3[RS_PATH_MAX];
    snprintf(p1, sizeof p1, "%s/%s", RS__G_PARAMS, x->key);
    snprintf(p2, sizeof p2, "%s/%s", RS__G_VALUES, x->key);
    snprintf(p3, sizeof p3, "%s/%s", RS__G_GRID, x->key);
    rc = rs__write_strings(a->file, a->comm, a->rank, p1, R, x->text);
    hsize_t dim = (hsize_t)R;
    if (rc == RS_OK && numeric) {
      hid_t d = rs__dcreate(a->file, p2, 'd', 1, &dim);
      rc = d < 0 ? rs__h5err(a->path, "create runs/values")
                 : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, p2);
      if (d >= 0) H5Dclose(d);
    }
    if (rc != RS_OK) break;
    if (x->kind == RS_ARCHIVE_TEXT) {
      rc = rs__write_strings(a->file, a->comm, a->rank, p3, R, x->s);
    } else {
      char type = x->kind == RS_ARCHIVE_INT ? 'l' : 'd';
      hid_t d = rs__dcreate(a->file, p3, type, 1, &dim);
      rc = d < 0 ? rs__h5err(a->path, "create runs/grid")
                 : rs__write_whole(d, rs__memtype(type), a->comm, a->rank,
                                   type == 'l' ? (const void *)x->i : (const void *)x->d, p3);
      if (d >= 0) H5Dclose(d);
    }
  }
done:
  free(ptr);
  free(num);
  return rc;
}
