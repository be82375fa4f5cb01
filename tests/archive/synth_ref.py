"""The synthetic sweep of synth.h, in Python: what every cell must hold.
Keep in step with synth.h."""
import numpy as np

RUNS = 3
SHARD = 4
NCKPT = [4, 3, 5]
NLAYERS = [2, 3, 1]
NPOINTS = [10, 7, 9]


def width(r, l):
    return 5 + r + l


def speclen(r, l):
    return min(width(r, l), 6)


def nshards(r):
    return (NPOINTS[r] + SHARD - 1) // SHARD


def count(r, c, l, p, e):
    return (r * 7 + c * 3 + l * 5 + p * 2 + e) % (width(r, l) + 1)


def sv(r, c, l, p, k):
    return np.float32(2.0 ** -k * (1 + r + 0.125 * c + 0.0625 * l + p / 1024.0))


def eff(r, c, l, p):
    return r + 0.5 * c + 0.25 * l + p / 512.0


def stable(r, c, l, p):
    return 1 + r + 0.25 * c + l + p / 256.0


def metric(r, c, which):
    return 100.0 * which + r + c / 8.0


def param(r, c, i):
    return r * 1000.0 + c + i / 64.0


def steps(r):
    return [0 if c == 0 else 10 * c * (c + 1) for c in range(NCKPT[r])]


def check_shard(f, r, c, s, fail):
    """Every value of one masked shard."""
    counts, spectra = f["lr/counts"], f["lr/spectra"]
    er, st = f["lr/effrank"], f["lr/stablerank"]
    E = f.attrs["n_eps"]
    p0 = s * SHARD
    for p in range(p0, min(p0 + SHARD, NPOINTS[r])):
        for l in range(NLAYERS[r]):
            want = [count(r, c, l, p, e) for e in range(3)]
            got = counts[r, c, l, p]
            if list(got[:2]) != want[:2] or got[E] != want[2]:
                fail(f"counts[{r},{c},{l},{p}] = {list(got)}, want {want}")
            sp = spectra[r, c, l, p]
            wsp = [sv(r, c, l, p, k) for k in range(speclen(r, l))]
            if not np.array_equal(sp[:len(wsp)], np.array(wsp, np.float32)) or not np.all(np.isnan(sp[len(wsp):])):
                fail(f"spectra[{r},{c},{l},{p}] = {sp}")
            if er[r, c, l, p] != eff(r, c, l, p) or st[r, c, l, p] != stable(r, c, l, p):
                fail(f"effrank/stablerank[{r},{c},{l},{p}] wrong")
