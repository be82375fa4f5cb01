/* The elementwise optimiser updates for one floating-point type, written in
 * the operation order of PyTorch 1.13's single-tensor kernels. Included by
 * optim.c once per precision with REAL and S(name) defined. */

/* torch.optim.SGD: d = g + wd p; buf = momentum buf + d (buf starts at 0, so
 * the first update gives buf = d exactly, like torch's clone); p += -lr d. */
RS__CLONES static void S(sgd)(REAL *restrict p, const REAL *restrict g,
                              REAL *restrict buf, size_t n, REAL wd, REAL mom,
                              REAL neglr) {
  if (buf) {
    for (size_t i = 0; i < n; i++) {
      REAL d = g[i] + wd * p[i];
      REAL b = buf[i] * mom + d;
      buf[i] = b;
      p[i] = p[i] + neglr * b;
    }
  } else {
    for (size_t i = 0; i < n; i++) p[i] = p[i] + neglr * (g[i] + wd * p[i]);
  }
}

/* torch.optim.Adam and AdamW. torch computes
 *   p += -step_size * m / (sqrt(v) / sqrt(bc2) + eps);
 * we evaluate the same expression as
 *   p += (-step_size sqrt(bc2)) * m / (sqrt(v) + eps sqrt(bc2)),
 * which saves one division per parameter (the loop is bound by the divider);
 * the two differ by a few units in the last place. AdamW: decay = 1 - lr wd
 * and l2 = 0; Adam: decay = 1 and l2 = wd (coupled, added to the gradient). */
RS__CLONES static void S(adamw)(REAL *restrict p, const REAL *restrict g,
                                REAL *restrict m, REAL *restrict v, size_t n,
                                REAL decay, REAL b1, REAL omb1, REAL b2,
                                REAL omb2, REAL negstep, REAL eps) {
  for (size_t i = 0; i < n; i++) {
    REAL pi = p[i] * decay;
    REAL gi = g[i];
    REAL mi = m[i] * b1 + omb1 * gi;
    REAL vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + negstep * mi / (SQRT(vi) + eps);
  }
}

RS__CLONES static void S(adam)(REAL *restrict p, const REAL *restrict g,
                               REAL *restrict m, REAL *restrict v, size_t n,
                               REAL l2, REAL b1, REAL omb1, REAL b2, REAL omb2,
                               REAL negstep, REAL eps) {
  for (size_t i = 0; i < n; i++) {
    REAL pi = p[i];
    REAL gi = g[i] + l2 * pi;
    REAL mi = m[i] * b1 + omb1 * gi;
    REAL vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + negstep * mi / (SQRT(vi) + eps);
  }
}
