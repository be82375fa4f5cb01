/* Self-description of a new archive: dimension scales on every axis (netCDF
 * conventions, so xarray opens each group) and the description/units
 * attributes. */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


typedef struct {
  char path[96];
  hid_t id;
} rs__scale;

typedef struct {
  rs__scale s[48];
  int n;
} rs__scales;

static void rs__scales_close(rs__scales *S) {
  for (int i = 0; i < S->n; i++) H5Dclose(S->s[i].id);
  S->n = 0;
}

/* Collective. The scale dataset of dimension `letter` in `group` (created on
 * first use, in the same order on every rank). Coordinates get values; the
 * other dimensions are netCDF "pure" dimensions (no values). */
static hid_t rs__scale_get(rs_archive *a, rs__scales *S, const char *group, char letter,
                           int64_t len) {
  char path[96];
  snprintf(path, sizeof path, "%.60s/%s", group, rs__dimname(letter, group));
  for (int i = 0; i < S->n; i++)
    if (strcmp(S->s[i].path, path) == 0) return S->s[i].id;
  if (S->n == (int)(sizeof S->s / sizeof S->s[0])) return H5I_INVALID_HID;
  const rs__layout *L = &a->lay;
  hsize_t dim = (hsize_t)len;
  bool coord = strchr("RCLWEeF", letter) != NULL;
  hid_t d = H5I_INVALID_HID;
  int rc = RS_OK;
  if (letter == 'F') {
    static const char *const files[RS__NFILES] = {"images", "labels", "heldout_images",
                                                  "heldout_labels"};
    rc = rs__write_strings(a->file, a->comm, a->rank, path, RS__NFILES, files);
    d = rc == RS_OK ? H5Dopen2(a->file, path, H5P_DEFAULT) : H5I_INVALID_HID;
  } else {
    char type = !coord ? 'f' : letter == 'R' || letter == 'C' ? 'l' : letter == 'E' || letter == 'e' ? 'd' : 'i';
    if (letter == 'E' && strcmp(group, "runs") == 0) type = 'i';
    d = rs__dcreate(a->file, path, type, 1, &dim);
    if (d >= 0 && coord) {
      void *buf = malloc((size_t)(len > 0 ? len : 1) * 8);
      if (!buf) {
        H5Dclose(d);
        return H5I_INVALID_HID;
      }
      bool uniform = true;
      for (int64_t r = 1; r < L->R; r++)
        uniform &= L->neps[r] == L->neps[0] &&
                   memcmp(L->eps + r * L->E, L->eps, (size_t)L->E * sizeof(double)) == 0;
      for (int64_t i = 0; i < len; i++) {
        switch (type) {
        case 'l': ((int64_t *)buf)[i] = i; break;
        case 'i': ((int32_t *)buf)[i] = (int32_t)(letter == 'E' ? i : i + 1); break;
        default: ((double *)buf)[i] = uniform && i < L->E ? L->eps[i] : NAN; break;
        }
      }
      rc = rs__write_whole(d, rs__memtype(type), a->comm, a->rank, buf, path);
      free(buf);
      if (rc == RS_OK && (letter == 'E' || letter == 'e') && type == 'd')
        rc = rs__attr_i64(d, "per_run", uniform ? 0 : 1);
    }
  }
  if (d < 0 || rc != RS_OK) {
    if (d >= 0) H5Dclose(d);
    return H5I_INVALID_HID;
  }
  char name[96];
  if (coord)
    snprintf(name, sizeof name, "%s", rs__dimname(letter, group));
  else
    snprintf(name, sizeof name, "%s%10lld", RS__NETCDF_DIM, (long long)len);
  if (H5DSset_scale(d, name) < 0 || rs__attr_str(d, "description", rs__dimdoc(letter)) != RS_OK) {
    H5Dclose(d);
    return H5I_INVALID_HID;
  }
  snprintf(S->s[S->n].path, sizeof S->s[S->n].path, "%s", path);
  S->s[S->n].id = d;
  return S->s[S->n++].id;
}

/* Collective. Attaches dimension scales to every axis of the dataset at
 * path (dims: its letters) and writes its description and units. */
static int rs__describe(rs_archive *a, rs__scales *S, const char *path, const char *dims) {
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, path, H5P_DEFAULT), d);
  if (d < 0) return RS_OK; /* absent (an empty dimension) */
  char group[96];
  snprintf(group, sizeof group, "%.*s", (int)strcspn(path, "/"), path);
  hsize_t ext[RS__MAXRANK] = {0};
  hid_t sp = H5Dget_space(d);
  int rank = H5Sget_simple_extent_dims(sp, ext, NULL);
  H5Sclose(sp);
  int rc = RS_OK;
  for (int i = 0; rc == RS_OK && i < rank && dims[i]; i++) {
    hid_t s = rs__scale_get(a, S, group, dims[i], (int64_t)ext[i]);
    if (s < 0 || H5DSattach_scale(d, s, (unsigned)i) < 0)
      rc = rs_error(RS_EHDF5, "%s: cannot attach dimension %s to %s", a->path,
                    rs__dimname(dims[i], group), path);
  }
  const char *units, *desc = rs__doc(path, &units);
  if (rc == RS_OK && desc) rc = rs__attr_str(d, "description", desc);
  if (rc == RS_OK && units) rc = rs__attr_str(d, "units", units);
  H5Dclose(d);
  return rc;
}

/* Collective. The annotations of the whole structure, after its creation. */
int rs__describe_all(rs_archive *a, const rs_archive_desc *desc) {
  rs__scales S = {.n = 0};
  int rc = RS_OK;
  for (size_t t = 0; rc == RS_OK && t < RS__NTABLES; t++)
    rc = rs__describe(a, &S, rs__tables[t].path, rs__tables[t].dims);
  for (int i = 0; rc == RS_OK && i < D_N; i++)
    if (a->d[i] >= 0) rc = rs__describe(a, &S, rs__dsets[i].path, rs__dsets[i].dims);
  for (int i = 0; rc == RS_OK && i < R_JOB_TEXT; i++)
    rc = rs__describe(a, &S, rs__records[i].path, rs__records[i].dims);
  static const char *const sub[] = {RS__G_PARAMS, RS__G_VALUES, RS__G_GRID};
  for (int ax = 0; rc == RS_OK && ax < desc->naxes; ax++)
    for (size_t g = 0; rc == RS_OK && g < 3; g++) {
      char p[RS_PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", sub[g], desc->axes[ax].key);
      rc = rs__describe(a, &S, p, "R");
      if (rc == RS_OK && g == 2) {
        hid_t d = H5Dopen2(a->file, p, H5P_DEFAULT);
        rc = d < 0 ? rs__h5err(a->path, "open a grid dataset")
                   : rs__attr_str(d, "key", desc->axes[ax].key);
        if (d >= 0) H5Dclose(d);
      }
    }
  if (rc == RS_OK) { /* the grid axes in job order (HDF5 lists names sorted) */
    size_t len = 1;
    for (int ax = 0; ax < desc->naxes; ax++) len += strlen(desc->axes[ax].key) + 1;
    char *axes = calloc(len, 1);
    for (int ax = 0; axes && ax < desc->naxes; ax++) {
      if (ax) strcat(axes, ",");
      strcat(axes, desc->axes[ax].key);
    }
    hid_t g = H5Gopen2(a->file, RS__G_GRID, H5P_DEFAULT);
    rc = !axes || g < 0 ? rs__h5err(a->path, "describe runs/grid")
                        : rs__attr_str(g, RS__A_AXES, axes);
    if (rc == RS_OK) rc = rs__attr_str(g, "description", "grid axes at full precision; attribute axes: their keys in job order, comma-separated");
    if (g >= 0) H5Gclose(g);
    free(axes);
  }
  hid_t jt = H5Dopen2(a->file, rs__records[R_JOB_TEXT].path, H5P_DEFAULT);
  if (rc == RS_OK && jt >= 0) {
    rc = rs__attr_str(jt, "description", "the job file's exact text");
    if (rc == RS_OK) rc = rs__attr_str(jt, "_Encoding", "utf-8");
  }
  if (jt >= 0) H5Dclose(jt);
  rs__scales_close(&S);
  return rc;
}
