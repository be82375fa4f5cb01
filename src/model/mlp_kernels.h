/* Forward, loss and backward of an rs__mlp stack for one floating-point type.
 * Included by mlp.c and vib.c once per training precision with REAL, S(name)
 * and the math functions defined (products: the stack's plans, rs_gemm.h); everything here is static and
 * suffixed, so the copies coexist. */

/* Rows of the batch into A[0] (a row copy), and their labels/targets. */
static inline void S(gather)(rs__mlp *m, const int64_t *idx, int nb) {
  const rs_dataset *d = m->data;
  int din = m->sizes[0], K = m->nout;
  REAL *restrict x = m->A[0];
  const REAL *xs = sizeof(REAL) == sizeof(float) ? (const REAL *)(const void *)m->xtrain32
                                                 : (const REAL *)(const void *)d->xtrain;
  for (int i = 0; i < nb; i++)
    memcpy(x + (size_t)i * (size_t)din, xs + (size_t)idx[i] * (size_t)din,
           (size_t)din * sizeof(REAL));
  if (m->loss == RS_LOSS_CROSS_ENTROPY) {
    for (int i = 0; i < nb; i++) m->lab[i] = d->ltrain[idx[i]];
  } else {
    REAL *restrict y = m->Y;
    for (int i = 0; i < nb; i++) {
      REAL *dst = y + (size_t)i * (size_t)K;
      if (d->ytrain) {
        const double *src = d->ytrain + (size_t)idx[i] * (size_t)K;
        for (int k = 0; k < K; k++) dst[k] = (REAL)src[k];
      } else { /* MSE on a classification set: one-hot targets */
        for (int k = 0; k < K; k++) dst[k] = (REAL)(k == d->ltrain[idx[i]]);
      }
    }
  }
}

/* A <- s(A + b) in place (relu, tanh, identity); rows x cols. */
static inline void S(bias_act)(REAL *restrict A, const REAL *restrict b, int rows,
                        int cols, rs_activation act) {
  for (int i = 0; i < rows; i++) {
    REAL *restrict a = A + (size_t)i * (size_t)cols;
    switch (act) {
    case RS_ACT_RELU:
      for (int j = 0; j < cols; j++) {
        REAL v = a[j] + b[j];
        a[j] = v > 0 ? v : 0;
      }
      break;
    case RS_ACT_TANH:
      for (int j = 0; j < cols; j++) a[j] = TANH(a[j] + b[j]);
      break;
    default: /* identity, and the linear output layer */
      for (int j = 0; j < cols; j++) a[j] += b[j];
      break;
    }
  }
}

/* Z <- Z + b, A <- gelu(Z) (exact erf form). */
static inline void S(bias_gelu)(REAL *restrict Z, REAL *restrict A,
                         const REAL *restrict b, int rows, int cols) {
  for (int i = 0; i < rows; i++) {
    REAL *restrict z = Z + (size_t)i * (size_t)cols;
    REAL *restrict a = A + (size_t)i * (size_t)cols;
    for (int j = 0; j < cols; j++) {
      REAL v = z[j] + b[j];
      z[j] = v;
      a[j] = (REAL)0.5 * v * ((REAL)1 + ERF(v * (REAL)M_SQRT1_2));
    }
  }
}

/* D <- D * s'(p) elementwise, from the stored activation A (relu: A > 0 iff
 * p > 0, so the derivative at exactly 0 is 0; tanh: 1 - A^2) or Z (gelu). */
static inline void S(act_grad)(REAL *restrict D, const REAL *restrict A,
                        const REAL *restrict Z, size_t n, rs_activation act) {
  switch (act) {
  case RS_ACT_RELU:
    for (size_t i = 0; i < n; i++) D[i] = A[i] > 0 ? D[i] : 0;
    break;
  case RS_ACT_TANH:
    for (size_t i = 0; i < n; i++) D[i] *= (REAL)1 - A[i] * A[i];
    break;
  case RS_ACT_GELU: {
    const REAL c = (REAL)(0.5 * M_2_SQRTPI * M_SQRT1_2); /* 1/sqrt(2 pi) */
    for (size_t i = 0; i < n; i++) {
      REAL z = Z[i];
      REAL cdf = (REAL)0.5 * ((REAL)1 + ERF(z * (REAL)M_SQRT1_2));
      D[i] *= cdf + z * c * EXP((REAL)-0.5 * z * z);
    }
    break;
  }
  default:
    break;
  }
}

static inline void S(forward)(rs__mlp *m, const REAL *params, int nb) {
  int L = m->L;
  for (int l = 1; l <= L; l++) {
    int n = m->sizes[l], k = m->sizes[l - 1];
    const REAL *W = params + m->woff[l], *b = params + m->boff[l];
    bool gelu = m->act == RS_ACT_GELU && l < L;
    REAL *out = gelu ? (REAL *)m->Z[l] : (REAL *)m->A[l];
    rs__gemm_run(&m->fwd[l], nb, n, k, m->A[l - 1], W, out);
    if (gelu)
      S(bias_gelu)(out, m->A[l], b, nb, n);
    else
      S(bias_act)(out, b, nb, n, l < L ? m->act : RS_ACT_IDENTITY);
  }
}

/* Mean loss over the batch of the outputs Zo (nb x m->nout) against the
 * gathered labels/targets; when G != NULL also d loss / d Zo into G. */
static inline double S(loss)(rs__mlp *m, const REAL *restrict Zo, int nb,
                             REAL *restrict G) {
  int K = m->nout;
  double total = 0;
  if (m->loss == RS_LOSS_CROSS_ENTROPY) {
    REAL inv = (REAL)1 / (REAL)nb;
    for (int i = 0; i < nb; i++) {
      const REAL *z = Zo + (size_t)i * (size_t)K;
      int y = m->lab[i];
      REAL mx = z[0];
      for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
      REAL s = 0;
      for (int k = 0; k < K; k++) s += EXP(z[k] - mx);
      REAL lse = mx + LOG(s);
      total += (double)(lse - z[y]);
      if (G) {
        REAL *g = G + (size_t)i * (size_t)K;
        for (int k = 0; k < K; k++) g[k] = EXP(z[k] - lse) * inv;
        g[y] -= inv;
      }
    }
    return total / nb;
  }
  const REAL *restrict Y = m->Y;
  size_t n = (size_t)nb * (size_t)K;
  REAL scale = (REAL)2 / (REAL)n;
  for (size_t i = 0; i < n; i++) {
    REAL d = Zo[i] - Y[i];
    total += (double)d * (double)d;
    if (G) G[i] = d * scale;
  }
  return total / (double)n;
}

/* d loss / d A[L] must be in m->G[0]. Segment s of layer l is reported as
 * seg0 + 2(l-1) (weights) and seg0 + 2(l-1) + 1 (biases). */
static inline void S(backward)(rs__mlp *m, const REAL *params, REAL *grad, int nb,
                               rs__segment_hook hook, void *ctx, int seg0) {
  int L = m->L;
  REAL *G = m->G[0], *D = m->G[1];
  for (int l = L; l >= 1; l--) {
    int n = m->sizes[l], k = m->sizes[l - 1];
    const REAL *W = params + m->woff[l];
    REAL *dW = grad + m->woff[l], *restrict db = grad + m->boff[l];
    rs__gemm_run(&m->dw[l], n, k, nb, G, m->A[l - 1], dW);
    for (int j = 0; j < n; j++) db[j] = 0;
    for (int i = 0; i < nb; i++) {
      const REAL *restrict g = G + (size_t)i * (size_t)n;
      for (int j = 0; j < n; j++) db[j] += g[j];
    }
    /* The input gradient of layer 1 is never needed. */
    if (l > 1) {
      rs__gemm_run(&m->dx[l], nb, k, n, G, W, D);
      S(act_grad)(D, m->A[l - 1], m->Z[l - 1], (size_t)nb * (size_t)k, m->act);
      REAL *t = G;
      G = D;
      D = t;
    }
    if (hook) {
      hook(ctx, seg0 + 2 * (l - 1));
      hook(ctx, seg0 + 2 * (l - 1) + 1);
    }
  }
}

/* Cloned (RS__CLONES: the same results) so the gather, bias, activation and
 * loss passes inlined here use the CPU's vector width (unused in vib.c). */
RS__CLONES __attribute__((unused)) static int S(loss_grad)(rs__mlp *m, const void *params, void *grad,
                               const int64_t *idx, int nb, double *loss,
                               rs__segment_hook hook, void *ctx) {
  RS_ASSERT(nb > 0 && nb <= m->cap);
  S(gather)(m, idx, nb);
  S(forward)(m, params, nb);
  double f = S(loss)(m, m->A[m->L], nb, grad ? (REAL *)m->G[0] : NULL);
  *loss = f;
  if (grad && isfinite(f)) S(backward)(m, params, grad, nb, hook, ctx, 0);
  return RS_OK;
}

static inline void S(gemm_only)(rs__mlp *m, const void *vparams, void *vgrad,
                                int nb) {
  const REAL *params = vparams;
  REAL *grad = vgrad;
  int L = m->L;
  for (int l = 1; l <= L; l++) {
    int n = m->sizes[l], k = m->sizes[l - 1];
    bool gelu = m->act == RS_ACT_GELU && l < L;
    rs__gemm_run(&m->fwd[l], nb, n, k, m->A[l - 1], params + m->woff[l],
                 gelu ? m->Z[l] : m->A[l]);
  }
  REAL *G = m->G[0], *D = m->G[1];
  for (int l = L; l >= 1; l--) {
    int n = m->sizes[l], k = m->sizes[l - 1];
    rs__gemm_run(&m->dw[l], n, k, nb, G, m->A[l - 1], grad + m->woff[l]);
    if (l > 1) {
      rs__gemm_run(&m->dx[l], nb, k, n, G, params + m->woff[l], D);
      REAL *t = G;
      G = D;
      D = t;
    }
  }
}
