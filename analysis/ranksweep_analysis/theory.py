"""The Gaussian information bottleneck in closed form (Chechik, Globerson,
Tishby & Weiss 2005) in the deep-VIB parametrisation beta_vib = 1 / beta:
critical values beta_vib,i = rho_i^2, the optimal rank and the optimal
I(T;X), I(T;Y) in nats, for canonical correlations rho."""
import math

import numpy as np


def critical_beta_vib(rho):
    """Critical beta_vib values, descending: the optimal rank is
    #{i : beta_vib < rho_i^2}."""
    return sorted((float(r) ** 2 for r in rho), reverse=True)


def optimum(rho, beta_vib):
    """(rank, I(T;X), I(T;Y)) of the optimal representation at beta_vib."""
    beta = 1.0 / float(beta_vib)
    rank, itx, ity = 0, 0.0, 0.0
    for r in rho:
        r2 = float(r) ** 2
        if beta > 1.0 / r2:
            lam = 1.0 - r2
            tx = 0.5 * math.log((beta - 1.0) * r2 / lam)
            rank += 1
            itx += tx
            ity += tx - 0.5 * math.log(beta * r2)
    return rank, itx, ity


def curve(rho, beta_vib):
    """optimum() over an array of beta_vib: an array [n, 3]."""
    return np.array([optimum(rho, b) for b in np.atleast_1d(beta_vib)], float)


def transitions(beta_vib, rank):
    """Where a rank sequence (ordered by ascending beta_vib) steps down: for
    each unit drop k -> k-1, (k, geometric midpoint, lower, upper grid value)."""
    out = []
    b = np.asarray(beta_vib, float)
    y = np.asarray(rank, float)
    for i in range(len(b) - 1):
        if np.isfinite(y[i]) and np.isfinite(y[i + 1]):
            for k in range(int(round(y[i + 1])), int(round(y[i]))):
                out.append((k + 1, math.sqrt(b[i] * b[i + 1]), b[i], b[i + 1]))
    return out
