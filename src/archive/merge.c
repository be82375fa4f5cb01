/* `ranksweep merge`: slice archives of one job joined into one, first input
 * wins per cell, masks last. */
#include "archive_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies block [st, st+ct) of dataset id from one archive to another. */
static int rs__copy_block(rs_archive *in, rs_archive *out, int id, const hsize_t *st,
                          const hsize_t *ct, void **buf, size_t *cap) {
  if (in->d[id] < 0 || out->d[id] < 0) return RS_OK;
  size_t n = rs__esize(rs__dsets[id].type);
  for (size_t i = 0; i < strlen(rs__dsets[id].dims); i++) n *= ct[i];
  if (n > *cap) {
    void *p = realloc(*buf, n);
    if (!p) return rs_error(RS_ENOMEM, "archive: out of memory");
    *buf = p;
    *cap = n;
  }
  RS_CALL(rs__dio(in, id, st, ct, *buf, false));
  return rs__dio(out, id, st, ct, *buf, true);
}

static int rs__merge_one(rs_archive *in, rs_archive *out, void **buf, size_t *cap) {
  const rs__layout *L = &out->lay;
  int64_t E1 = L->E + 1;
  size_t ns = (size_t)(L->R * L->C * L->P), nm = (size_t)(L->R * L->C);
  uint8_t *m[2][5] = {{0}};
  const int mids[5] = {D_DONE_POINTS, D_DONE_METRICS, D_DONE_RUNS, D_DONE_WFINAL, D_DONE_WALL};
  const size_t msz[5] = {ns, nm, (size_t)L->R, (size_t)L->R, nm};
  int rc = RS_OK;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 5; i++) {
      m[k][i] = calloc(msz[i] ? msz[i] : 1, 1);
      if (!m[k][i]) rc = rs_error(RS_ENOMEM, "archive: out of memory");
      else if (msz[i]) rc = rs__read_all(k ? out : in, mids[i], m[k][i]);
      if (rc != RS_OK) goto done;
    }
  /* first input wins: a cell already set in the output is left alone */
  for (int64_t r = 0; r < L->R && rc == RS_OK; r++) {
    int nl = L->nlayers[r];
    for (int c = 0; c < L->nckpt[r] && rc == RS_OK; c++) {
      /* runs of consecutive points set in the input and not yet in the output */
      const uint8_t *pin = m[0][0] + (r * L->C + c) * L->P, *pout = m[1][0] + (r * L->C + c) * L->P;
      for (int p = 0; p < L->npoints[r] && rc == RS_OK;) {
        if (!pin[p] || pout[p]) {
          p++;
          continue;
        }
        int p0 = p;
        while (p < L->npoints[r] && pin[p] && !pout[p]) p++;
        hsize_t st[5] = {(hsize_t)r, (hsize_t)c, 0, (hsize_t)p0, 0};
        hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)(p - p0), (hsize_t)E1};
        if (nl > 0) {
          rc = rs__copy_block(in, out, D_LR_COUNTS, st, ct, buf, cap);
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_COUNTS_NP, st, ct, buf, cap);
          ct[4] = (hsize_t)L->K;
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_SPECTRA, st, ct, buf, cap);
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_EFFRANK, st, ct, buf, cap);
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_STABLE, st, ct, buf, cap);
        }
        if (rc == RS_OK) rc = rs__set_points(out, (int)r, c, p0, p - p0);
      }
      size_t i = (size_t)(r * L->C + c);
      hsize_t st[4] = {(hsize_t)r, (hsize_t)c, 0, 0};
      if (m[0][1][i] && !m[1][1][i] && rc == RS_OK) {
        const int ids[] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y,
                           D_M_WFRO, D_M_WSPEC, D_M_WRANK};
        hsize_t ct[4] = {1, 1, (hsize_t)L->W, (hsize_t)L->E};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0] && rc == RS_OK; k++)
          rc = rs__copy_block(in, out, ids[k], st, ct, buf, cap);
        if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_METRICS, st);
      }
      if (m[0][4][i] && !m[1][4][i] && rc == RS_OK) {
        hsize_t ct[3] = {1, 1, (hsize_t)L->NP};
        rc = rs__copy_block(in, out, D_W_ALL, st, ct, buf, cap);
        if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_WALL, st);
      }
    }
    hsize_t st[3] = {(hsize_t)r, 0, 0};
    if (m[0][3][r] && !m[1][3][r] && rc == RS_OK) {
      hsize_t ct[2] = {1, (hsize_t)L->NP};
      rc = rs__copy_block(in, out, D_W_FINAL, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_WFINAL, st);
    }
    if (m[0][2][r] && !m[1][2][r] && rc == RS_OK) {
      hsize_t ct[1] = {1};
      rc = rs__copy_block(in, out, D_R_DIVERGED, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__copy_block(in, out, D_R_LAST_STEP, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_RUNS, st);
    }
    /* training state: taken from the first input whose slots hold one */
    if (rc == RS_OK && in->d[D_S_HEADER] >= 0) {
      int64_t hi[2][4], ho[2][4];
      rc = rs__state_header(in, (int)r, hi, false, -1);
      if (rc == RS_OK) rc = rs__state_header(out, (int)r, ho, false, -1);
      bool have_in = hi[0][1] >= 0 || hi[1][1] >= 0, have_out = ho[0][1] >= 0 || ho[1][1] >= 0;
      if (rc == RS_OK && have_in && !have_out) {
        hsize_t bs[3] = {(hsize_t)r, 0, 0}, bc[3] = {1, 2, (hsize_t)L->SB};
        rc = rs__copy_block(in, out, D_S_BLOB, bs, bc, buf, cap);
        if (rc == RS_OK) rc = rs__state_header(out, (int)r, hi, true, -1);
      }
    }
  }
done:
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 5; i++) free(m[k][i]);
  return rc;
}

/* One attribute of src written to the group dst (H5Aiterate2 callback). */
static herr_t rs__copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *dst) {
  (void)info;
  hid_t a = H5Aopen(src, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
  hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : -1;
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  size_t sz = mt >= 0 ? H5Tget_size(mt) : 0;
  void *buf = n >= 0 && sz ? calloc((size_t)(n ? n : 1), sz) : NULL;
  herr_t e = -1;
  if (buf && H5Aread(a, mt, buf) >= 0) {
    hid_t b = H5Acreate2(*(hid_t *)dst, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    e = b >= 0 && H5Awrite(b, mt, buf) >= 0 ? 0 : -1;
    if (b >= 0) H5Aclose(b);
    if (H5Tdetect_class(mt, H5T_VLEN) > 0 || H5Tis_variable_str(mt) > 0)
      H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
  }
  free(buf);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  H5Aclose(a);
  return e;
}

/* Copies the attributes of the group src_file/src_path into a new group
 * dst_loc/dst_name. Not H5Ocopy: HDF5 1.10 crashes copying dense attribute
 * storage (more than 8 attributes, 1.8 file format) that holds variable-length
 * strings. */
static int rs__copy_attrs(hid_t src_file, const char *src_path, hid_t dst_loc, const char *dst_name) {
  hid_t s = H5Gopen2(src_file, src_path, H5P_DEFAULT);
  if (s < 0) return -1;
  hid_t d = H5Gcreate2(dst_loc, dst_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = d < 0 ? -1 : H5Aiterate2(s, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, rs__copy_attr, &d);
  if (d >= 0) H5Gclose(d);
  H5Gclose(s);
  return e < 0 ? -1 : 0;
}

/* merge has no --resume: an output already there, even one an interrupted
 * merge left, is for the user to remove (it never overwrites). */
static int rs__merge_refuse_existing(const char *out_path) {
  struct stat sb;
  if (lstat(out_path, &sb) != 0 || S_ISDIR(sb.st_mode)) return RS_OK;
  if (rs__creating_marked(out_path))
    return rs_error(RS_EEXISTS,
                    "merge: %s: an earlier merge into it was interrupted (%s.creating is "
                    "there); merge never overwrites: remove %s and %s.creating, then rerun "
                    "the merge, or choose another output",
                    out_path, out_path, out_path, out_path);
  return rs_error(RS_EEXISTS,
                  "merge: %s: output exists; merge never overwrites: remove it or choose "
                  "another output",
                  out_path);
}

/* Opens every input read-only into in[] (closed by the caller) and refuses
 * another format version, another job file or other dimensions than the first's. */
static int rs__merge_open_inputs(int ninputs, const char *const *inputs, rs_archive **in) {
  int rc = RS_OK;
  char hash0[128] = "";
  for (int i = 0; i < ninputs && rc == RS_OK; i++) {
    rc = rs__open(MPI_COMM_NULL, inputs[i], H5F_ACC_RDONLY, &in[i]);
    if (rc != RS_OK) break;
    if (in[i]->version != RS__FORMAT_VERSION) {
      rc = rs_error(RS_EARCHIVE, "merge: %s has archive format version %lld; merge needs version %d",
                    inputs[i], (long long)in[i]->version, RS__FORMAT_VERSION);
      break;
    }
    char h[128];
    rs__attr_read_str(in[i]->file, RS__A_JOB_HASH, h, sizeof h);
    if (i == 0) {
      snprintf(hash0, sizeof hash0, "%s", h);
      continue;
    }
    char why[256];
    if (strcmp(h, hash0) != 0)
      rc = rs_error(RS_EARCHIVE, "merge: %s has job_hash %s but %s has %s: archives of different job files",
                    inputs[i], h, inputs[0], hash0);
    else if (!rs__layout_equal(&in[0]->lay, &in[i]->lay, why, sizeof why))
      rc = rs_error(RS_EARCHIVE, "merge: %s and %s have different dimensions (%s)", inputs[0], inputs[i], why);
  }
  return rc;
}

/* Creates the output with the first input's job, per-run records, layout and
 * shard size (desc is filled here and freed by the caller). */
static int rs__merge_create(rs_archive *in0, const char *out_path, rs__desc_store *desc,
                            rs_archive **out) {
  RS_CALL(rs__desc_read(in0, desc));
  /* rs__create takes ownership of a layout: hand it a copy */
  rs__layout lay = in0->lay, copy = lay;
  int rc = rs__layout_alloc(&copy);
  for (size_t t = 0; rc == RS_OK && t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(&lay, rs__tables[t].dims, dims);
    size_t cnt = rs__esize(rs__tables[t].type);
    for (int i = 0; i < n; i++) cnt *= dims[i];
    memcpy(*(void **)((char *)&copy + rs__tables[t].off), *(void **)((char *)&lay + rs__tables[t].off), cnt);
  }
  int64_t shard = 0;
  hid_t pv = H5Gopen2(in0->file, RS__G_PROVENANCE, H5P_DEFAULT);
  if (pv >= 0) {
    rs__attr_read_i64(pv, RS__A_SHARD_SIZE, &shard);
    H5Gclose(pv);
  }
  rs_archive_info info = {1, 0, shard > 0 ? (int)shard : 1, false, NULL, NULL, NULL};
  if (rc == RS_OK) rc = rs__create(MPI_COMM_NULL, out_path, &copy, &desc->desc, &info, out);
  rs__layout_free(&copy);
  return rc;
}

/* The output's provenance: the inputs' paths and each input's own provenance. */
static int rs__merge_provenance(rs_archive *out, int ninputs, const char *const *inputs,
                                rs_archive **in) {
  hid_t prov = H5Gopen2(out->file, RS__G_PROVENANCE, H5P_DEFAULT);
  size_t len = 1;
  for (int i = 0; i < ninputs; i++) len += strlen(inputs[i]) + 1;
  char *list = calloc(len, 1);
  for (int i = 0; list && i < ninputs; i++) {
    if (i) strcat(list, "\n");
    strcat(list, inputs[i]);
  }
  int rc = list ? rs__attr_str(prov, "merged_from", list) : rs_error(RS_ENOMEM, "archive: out of memory");
  free(list);
  for (int i = 0; i < ninputs && rc == RS_OK; i++) {
    char dst[64];
    snprintf(dst, sizeof dst, "input_%d", i);
    if (rs__copy_attrs(in[i]->file, RS__G_PROVENANCE, prov, dst) < 0)
      rc = rs_error(RS_EHDF5, "merge: cannot copy the provenance of %s", inputs[i]);
  }
  H5Gclose(prov);
  return rc;
}

/* Complete when every run is done in the merged masks. */
static int rs__merge_finalize(rs_archive *out) {
  uint8_t *rm = malloc((size_t)out->lay.R);
  int rc = rm ? rs__read_all(out, D_DONE_RUNS, rm) : rs_error(RS_ENOMEM, "archive: out of memory");
  bool all = true;
  for (int64_t r = 0; rm && r < out->lay.R; r++) all &= rm[r] != 0;
  free(rm);
  if (rc == RS_OK) rc = rs_archive_finalize(out, all);
  return rc;
}

int rs_archive_merge(const char *out_path, int ninputs, const char *const *inputs) {
  if (ninputs < 1) return rs_error(RS_EARG, "merge: no input archives");
  RS_CALL(rs_archive_path_check(out_path, "merge output"));
  RS_CALL(rs__merge_refuse_existing(out_path));
  rs_archive **in = calloc((size_t)ninputs, sizeof *in);
  if (!in) return rs_error(RS_ENOMEM, "archive: out of memory");
  rs_archive *out = NULL;
  rs__desc_store desc;
  memset(&desc, 0, sizeof desc);
  int rc = rs__merge_open_inputs(ninputs, inputs, in);
  if (rc == RS_OK) rc = rs__merge_create(in[0], out_path, &desc, &out);
  void *buf = NULL;
  size_t cap = 0;
  for (int i = 0; i < ninputs && rc == RS_OK; i++) rc = rs__merge_one(in[i], out, &buf, &cap);
  free(buf);
  if (rc == RS_OK) rc = rs__merge_provenance(out, ninputs, inputs, in);
  if (rc == RS_OK) rc = rs__merge_finalize(out);
  if (out) {
    int rc2 = rs_archive_close(&out);
    if (rc == RS_OK) rc = rc2;
  }
  for (int i = 0; i < ninputs; i++)
    if (in[i]) rs__free(in[i]);
  free(in);
  rs__desc_free(&desc);
  return rc;
}
