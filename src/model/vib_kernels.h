/* The VIB's sampling, decoder, loss and their gradients for one
 * floating-point type; the encoder runs on the shared MLP kernels. Included
 * by vib.c once per training precision (REAL, S(name), math macros; products: the model's plans, rs_gemm.h). */

static inline REAL S(softplus)(REAL x) {
  return x > 0 ? x + LOG1P(EXP(-x)) : LOG1P(EXP(x));
}

/* Gaussian decoder: mean logits (nb x O), log-std ls (O) at params + lsoff.
 * Returns the mean over the batch of the NLL summed over the outputs, in nats:
 * sum_j 0.5 ((y_j - m_j) exp(-ls_j))^2 + ls_j + 0.5 log(2 pi). With grad, d/d m
 * goes to v->gd and d/d ls into grad + lsoff. */
static double S(gauss_nll)(vib_model *v, const REAL *params, const REAL *logits, int nb,
                           REAL *grad) {
  int O = v->nout;
  const REAL *restrict ls = params + v->lsoff, *restrict Y = v->enc.Y;
  REAL *restrict gd = v->gd, *restrict gls = grad ? grad + v->lsoff : NULL;
  REAL inv = (REAL)1 / (REAL)nb;
  if (gls)
    for (int j = 0; j < O; j++) gls[j] = 0;
  double total = 0;
  for (int i = 0; i < nb; i++)
    for (int j = 0; j < O; j++) {
      size_t k = (size_t)i * O + j;
      REAL w = EXP(-ls[j]), r = (logits[k] - Y[k]) * w;
      total += (double)((REAL)0.5 * r * r + ls[j]);
      if (gls) {
        gd[k] = r * w * inv;
        gls[j] += ((REAL)1 - r * r) * inv;
      }
    }
  return total / nb + 0.5 * O * log(2 * M_PI);
}

/* Cloned as the MLP's step (RS__CLONES: the same results). */
RS__CLONES static int S(vib_loss_grad)(vib_model *v, const REAL *params, REAL *grad,
                            const int64_t *idx, int nb, rs_rng *noise,
                            double *loss, rs__segment_hook hook, void *ctx) {
  rs__mlp *m = &v->enc;
  int K = v->K, O = v->nout, K2 = 2 * v->K;
  RS_ASSERT(nb > 0 && nb <= m->cap);
  S(gather)(m, idx, nb);
  /* The noise of a step: nb x K standard normals, row-major, drawn in
   * double from the trainer's noise stream. */
  REAL *restrict eps = v->eps;
  size_t ne = (size_t)nb * (size_t)K;
  if (sizeof(REAL) == sizeof(double)) {
    rs_rng_normals(noise, ne, (double *)(void *)eps);
  } else {
    /* Batched, so the generator's blocks vectorise; then rounded as before. */
    const double *restrict e64 = v->eps64;
    rs_rng_normals(noise, ne, v->eps64);
    for (size_t i = 0; i < ne; i++) eps[i] = (REAL)e64[i];
  }
  S(forward)(m, params, nb);
  const REAL *restrict H = m->A[m->L];
  REAL *restrict z = v->z, *restrict sigs = v->sig;
  double kl = 0;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < K; k++) {
      REAL mu = H[(size_t)i * K2 + k], s = H[(size_t)i * K2 + K + k];
      REAL sig = sigs[(size_t)i * K + k] = S(softplus)(s - (REAL)RS__VIB_SHIFT);
      z[(size_t)i * K + k] = mu + sig * eps[(size_t)i * K + k];
      kl += (double)((REAL)0.5 * (mu * mu + sig * sig - (REAL)1) - LOG(sig));
    }
  kl /= nb;
  const REAL *Wd = params + v->dwoff, *bd = params + v->dboff;
  REAL *restrict logits = v->logits;
  rs__gemm_run(&v->dfwd, nb, O, K, z, Wd, logits);
  S(bias_act)(logits, bd, nb, O, RS_ACT_IDENTITY);
  double ce = v->gauss ? S(gauss_nll)(v, params, logits, nb, grad)
                      : S(loss)(m, logits, nb, grad ? (REAL *)v->gd : NULL);
  double f = ce + v->beta * kl;
  v->last_rate = kl;
  *loss = f;
  if (!grad || !isfinite(f)) return RS_OK;

  const REAL *gd = v->gd;
  REAL *dWd = grad + v->dwoff, *restrict dbd = grad + v->dboff;
  rs__gemm_run(&v->ddw, O, K, nb, gd, z, dWd);
  for (int j = 0; j < O; j++) dbd[j] = 0;
  for (int i = 0; i < nb; i++)
    for (int j = 0; j < O; j++) dbd[j] += gd[(size_t)i * O + j];
  REAL *restrict dz = v->dz;
  rs__gemm_run(&v->ddx, nb, K, O, gd, Wd, dz);
  if (hook) {
    hook(ctx, 2 * m->L);
    hook(ctx, 2 * m->L + 1);
    if (v->gauss) hook(ctx, 2 * m->L + 2);
  }
  /* d/d mu = dz + beta mu / nb; d/d s = (dz eps + beta (sig - 1/sig) / nb)
   * * sigmoid(s - shift), into the head's gradient rows. */
  REAL *restrict G = m->G[0];
  REAL bnb = (REAL)(v->beta / nb);
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < K; k++) {
      REAL mu = H[(size_t)i * K2 + k], x = H[(size_t)i * K2 + K + k] - (REAL)RS__VIB_SHIFT;
      /* sigma as the forward pass computed it (the same bits) */
      REAL sig = sigs[(size_t)i * K + k], sg = (REAL)1 / ((REAL)1 + EXP(-x));
      REAL d = dz[(size_t)i * K + k];
      G[(size_t)i * K2 + k] = d + bnb * mu;
      G[(size_t)i * K2 + K + k] = (d * eps[(size_t)i * K + k] + bnb * (sig - (REAL)1 / sig)) * sg;
    }
  S(backward)(m, params, grad, nb, hook, ctx, 0);
  return RS_OK;
}

static void S(vib_gemm_only)(vib_model *v, const REAL *params, REAL *grad, int nb) {
  int K = v->K, O = v->nout;
  S(gemm_only)(&v->enc, params, grad, nb);
  rs__gemm_run(&v->dfwd, nb, O, K, v->z, params + v->dwoff, v->logits);
  rs__gemm_run(&v->ddw, O, K, nb, v->gd, v->z, grad + v->dwoff);
  rs__gemm_run(&v->ddx, nb, K, O, v->gd, params + v->dwoff, v->dz);
}
