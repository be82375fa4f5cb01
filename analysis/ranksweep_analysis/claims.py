"""The paper's claims as checks on plain arrays, each returning (ok, detail):
the claim tests call them on real archives, and on negative controls (data on
which the claim is false) that the same function must reject. Windows are
given in checkpoints or grid points, never wider than one grid step."""
import numpy as np

from . import theory


def _res(ok, lines):
    return bool(ok), "\n".join(lines)


def falls_below(y, fraction):
    """Per run of y [run, checkpoint]: the final value is below `fraction` x
    the run's peak, and the peak is not the last checkpoint."""
    y = np.asarray(y, float)
    lines, ok = [], True
    for r, c in enumerate(y):
        i = int(np.nanargmax(c))
        good = i < len(c) - 1 and c[-1] < fraction * c[i]
        ok &= good
        lines.append(f"run {r}: peak {c[i]:.2f} at checkpoint {i}, final {c[-1]:.2f} "
                     f"({c[-1] / c[i]:.3f} of the peak; needs < {fraction:g}) {'ok' if good else 'FAILS'}")
    return _res(ok, lines)


def kept_fraction(y):
    """final / peak per run of y [run, checkpoint]."""
    y = np.asarray(y, float)
    return y[:, -1] / np.nanmax(y, axis=1)


def deeper_falls_further(kept):
    """kept [layer, run] (final / peak, layers in order of depth): for every
    run the fraction kept strictly decreases with depth."""
    kept = np.asarray(kept, float)
    d = np.diff(kept, axis=0)
    lines = [f"run {r}: final/peak by depth {np.round(kept[:, r], 3).tolist()}"
             f" {'ok' if (d[:, r] < 0).all() else 'FAILS'}" for r in range(kept.shape[1])]
    return _res((d < 0).all(), lines)


def fall_after_fit(steps, y, loss, fit_loss=1e-3, kept=0.9, fraction=0.75):
    """Per run: the fall is the final phase of training. With t_fit the first
    checkpoint at which the training loss is below `fit_loss`, the local rank
    at t_fit is still at least `kept` x its peak (nothing has fallen while
    the data were being fitted), and the curve first drops below `fraction` x
    peak at a checkpoint after t_fit. steps [checkpoint], y and loss [run,
    checkpoint]."""
    steps = np.asarray(steps)
    y, loss = np.asarray(y, float), np.asarray(loss, float)
    lines, ok = [], True
    for r in range(y.shape[0]):
        fitted = np.flatnonzero(loss[r] < fit_loss)
        peak_i = int(np.nanargmax(y[r]))
        below = np.flatnonzero((np.arange(y.shape[1]) > peak_i) & (y[r] < fraction * y[r, peak_i]))
        if not len(fitted) or not len(below):
            ok = False
            lines.append(f"run {r}: {'never fitted' if not len(fitted) else 'never falls'} FAILS")
            continue
        f, b = fitted[0], below[0]
        good = y[r, f] >= kept * y[r, peak_i] and b > f
        ok &= good
        lines.append(f"run {r}: loss < {fit_loss:g} from step {steps[f]} (local rank {y[r, f]:.2f}, "
                     f"{y[r, f] / y[r, peak_i]:.3f} of its peak {y[r, peak_i]:.2f}); below {fraction:g} of the "
                     f"peak at step {steps[b]} (training loss {loss[r, b - 1]:.2g} at the checkpoint before, "
                     f"{loss[r, b]:.2g} there) {'ok' if good else 'FAILS'}")
    return _res(ok, lines)


def steps_at_critical_betas(beta_vib, rank, rho, late=1):
    """The measured rank (final, ascending beta_vib) never rises with
    beta_vib and steps down once per critical value rho_i^2, each drop
    between the same two grid points as the closed form's or at most `late`
    grid intervals after it (finite training sheds the last direction
    slowly); never before it."""
    b = np.asarray(beta_vib, float)
    rank = np.asarray(rank, float)
    want = theory.curve(rho, b)[:, 0]
    idx = {v: i for i, v in enumerate(b)}
    meas = {k: idx[lo] for k, _, lo, _ in theory.transitions(b, rank)}
    ref = {k: idx[lo] for k, _, lo, _ in theory.transitions(b, want)}
    lines = [f"ranks {rank.tolist()}"]
    ok = bool(np.all(np.diff(rank) <= 0)) and sorted(meas) == sorted(ref) and len(theory.transitions(b, rank)) == len(ref)
    if not np.all(np.diff(rank) <= 0):
        lines.append("the rank rises with beta_vib somewhere: FAILS")
    for k in sorted(ref, reverse=True):
        it = ref[k]
        if k not in meas:
            lines.append(f"rank {k} -> {k - 1}: no measured drop FAILS")
            ok = False
            continue
        im = meas[k]
        good = it <= im <= it + late
        ok &= good
        lines.append(f"rank {k} -> {k - 1}: measured between {b[im]:.4g} and {b[im + 1]:.4g}, closed form between "
                     f"{b[it]:.4g} and {b[it + 1]:.4g} ({im - it:+d} grid points) {'ok' if good else 'FAILS'}")
    return _res(ok, lines)


def both_fall_with_beta(beta_vib, rank, rate):
    """Across a beta sweep (final values): the local rank never rises and the
    rate strictly falls as beta_vib grows."""
    o = np.argsort(np.asarray(beta_vib, float))
    rank, rate = np.asarray(rank, float)[o], np.asarray(rate, float)[o]
    ok = bool(np.all(np.diff(rank) <= 0) and np.all(np.diff(rate) < 0))
    return _res(ok, [f"rank by beta_vib {rank.tolist()}", f"rate by beta_vib {np.round(rate, 4).tolist()}"])


def rate_falls_before_rank(rank, rate, share=0.1):
    """Per run over training (rank, rate [run, checkpoint]): the rate ends
    below its start, the local rank ends below its maximum, and at least
    `share` of the rate's fall has happened before the rank first drops below
    its maximum (the rate moves first, at constant rank)."""
    rank, rate = np.asarray(rank, float), np.asarray(rate, float)
    lines, ok = [], True
    for r in range(rank.shape[0]):
        k = int(np.argmax(rank[r]))
        drop = np.flatnonzero((np.arange(rank.shape[1]) > k) & (rank[r] < rank[r, k]))
        fell = rate[r, 0] - rate[r, -1]
        if not len(drop) or fell <= 0:
            ok = False
            lines.append(f"run {r}: {'the rank never falls' if not len(drop) else 'the rate does not fall'} FAILS")
            continue
        s = (rate[r, 0] - rate[r, drop[0] - 1]) / fell
        good = s >= share
        ok &= good
        lines.append(f"run {r}: {s:.2f} of the rate's fall before the rank first falls {'ok' if good else 'FAILS'}")
    return _res(ok, lines)


def falls_between(before, after):
    """Elementwise after < before (e.g. a proxy at the peak's checkpoint and
    at the end, per run)."""
    before, after = np.asarray(before, float), np.asarray(after, float)
    return _res(bool(np.all(after < before)),
                [f"{a:.3f} -> {b:.3f} {'ok' if b < a else 'FAILS'}" for a, b in zip(before.ravel(), after.ravel())])
