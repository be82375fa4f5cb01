"""Tests of the paper's qualitative claims (Patel & Shwartz-Ziv 2024,
"Learning to Compress: Local Rank and Information Compression in Deep
Neural Networks") on reduced twins of its experiments, run with the real
ranksweep on 3 ranks and read through ranksweep_analysis. They assert
shapes and orders, not golden numbers; each test names its claim.

Archives: jobs/twin-gaussian.yaml (4 seeds, 4 hidden layers, 40,000 steps,
representation spectra at every checkpoint) and jobs/gaussian-ib.yaml (the
linear VIB of tests/e2e/gaussian_ib.sh, which asserts the exact ranks at five
betas; here the transitions are located on the whole beta grid)."""
import numpy as np
import pytest

import ranksweep_analysis as ra
from ranksweep_analysis import theory

EPS = 0.01        # the paper's threshold
DEEPEST_FRACTION = 0.5


@pytest.fixture(scope="module")
def twin(twin_gaussian):
    return ra.load(twin_gaussian)


@pytest.fixture(scope="module")
def gib(gaussian_ib):
    return ra.load(gaussian_ib)


def _ratios(ds):
    """final / peak local rank per layer (rows) and seed (columns)."""
    lr = ra.lr_at(ds, EPS)
    return {int(l): ra.fall_step(lr.sel(layer=l), DEEPEST_FRACTION) for l in ds["layer"].values}


def test_claim_a_deepest_layer_compresses_for_every_seed(twin):
    """Claim (a): the local rank of the deepest hidden layer falls late in
    training: for every seed its final value at eps 0.01 is below half of
    its peak."""
    assert bool(twin["done"].all()) and twin.sizes["run"] >= 3
    L = int(twin["layer"].max())
    t = _ratios(twin)[L]
    print("\nlayer %d: peak %s final %s" % (L, t["peak"].round(2).tolist(), t["final"].round(2).tolist()))
    assert (t["final"] < DEEPEST_FRACTION * t["peak"]).all(), t
    assert t["fall_step"].notnull().all()


def test_claim_a_deeper_layers_fall_further(twin):
    """Claim (a): deeper layers compress more: for every seed the fraction
    of its peak that a layer keeps at the end decreases with depth over the
    layers 2..L; layer 1 (J_1 = W_1) keeps its full rank min(d0, n_1)."""
    t = _ratios(twin)
    L = int(twin["layer"].max())
    kept = np.array([(t[l]["final"] / t[l]["peak"]).values for l in range(2, L + 1)])  # [layer, seed]
    print("\nfinal/peak per layer 2..%d (rows) and seed: %s" % (L, kept.round(3).tolist()))
    assert (np.diff(kept, axis=0) < 0).all(), kept
    l1 = ra.lr_at(twin, EPS, layer=1).values
    assert (l1 == min(24, 40)).all()


def test_claim_a_the_fall_comes_after_the_fit(twin):
    """Claim (a): the compression is the final phase of training: the
    deepest layer falls below 3/4 of its peak only after every training
    point is classified correctly, with the training loss already below
    1e-3, at least ten times later than the fit."""
    L = int(twin["layer"].max())
    t = ra.fall_step(ra.lr_at(twin, EPS, layer=L), 0.75)
    steps = twin["step"].values
    for r in range(twin.sizes["run"]):
        acc = twin["train_acc"].values[r]
        fit = steps[np.flatnonzero(acc >= 1.0)[0]]
        fall = t.loc[r, "fall_step"]
        loss = float(twin["train_loss"].sel(step=fall).values[r])
        print(f"\nrun {r}: fitted at step {fit}, layer {L} below 3/4 of its peak at step {fall:.0f} (loss {loss:.2g})")
        assert fall >= 10 * max(fit, 1) and loss < 1e-3


def test_claim_b_vib_rank_steps_at_the_critical_betas(gib):
    """Claim (b): the local rank of a VIB encoder steps down as beta_vib
    crosses the Gaussian-bottleneck critical values rho_i^2: on the whole
    beta grid the final rank of the encoder mean (eps 0.03, the job's middle
    threshold) never rises with beta_vib, drops by one at exactly as many
    places as there are critical values, and each drop lies within a factor
    1.35 of its critical value (the grid brackets it)."""
    from ranksweep_analysis.plots import vib
    assert ra.data_kind(gib) == "gaussian_ib"
    df, rho = vib.data(gib, 0.03, theory=True)
    last = df[df["layer"] == df["layer"].max()].sort_values("beta_vib")
    rank = last["lr_mean"].values
    print("\nbeta_vib:", last["beta_vib"].round(4).tolist())
    print("final rank of the encoder mean:", rank.tolist())
    assert np.all(np.diff(rank) <= 0)
    steps = theory.transitions(last["beta_vib"].values, rank)
    crit = theory.critical_beta_vib(rho)
    assert sorted(k for k, *_ in steps) == list(range(1, len(crit) + 1)), steps
    for k, mid, lo, hi in steps:
        c = crit[k - 1]
        print(f"rank {k} -> {k - 1}: between {lo:.4g} and {hi:.4g}; critical {c:.4g}")
        assert c / 1.35 <= mid <= c * 1.35


def test_claim_c_vib_rate_falls_with_the_local_rank(gib):
    """Claim (c): the information between input and representation falls
    with the local rank: across the VIB beta sweep, every run whose encoder
    mean has a lower final local rank has a lower rate (mean KL, an upper
    bound on I(Z;X)) than every run with a higher rank."""
    from ranksweep_analysis.plots import vib
    df, _ = vib.data(gib, 0.03)
    last = df[df["layer"] == df["layer"].max()]
    by = last.groupby("lr_mean")["rate"].agg(["min", "max"]).sort_index()
    print("\nrate by final local rank:\n", by.round(3))
    assert len(by) >= 4
    assert (by["max"].values[:-1] < by["min"].values[1:]).all(), by


def test_claim_c_spectrum_proxies_fall_with_the_local_rank(twin):
    """Claim (c) on the MLP twin, from the representation spectra (post-
    activation, training points) at every checkpoint: between the checkpoint
    of a layer's peak local rank and the end of training, the effective rank
    of the representation falls in every layer 2..L for every seed, and the
    Gaussian-channel proxy of I(X; T + sigma Z) at sigma 0.1, averaged over
    the seeds, falls in the layers 2..L-1. (Not asserted per seed, nor for
    the deepest layer: the representation's scale grows late in training, so
    a fixed-sigma proxy need not fall where the local rank does; the test
    prints every value.)"""
    assert "info_proxy" in twin and bool(twin["spectrum_effrank"].notnull().all())
    lr = ra.lr_at(twin, EPS)
    gauss = twin["info_proxy"].sel(noise=0.1)
    L = int(twin["layer"].max())
    for l in range(2, L + 1):
        t = ra.fall_step(lr.sel(layer=l), 0.5)
        g_peak, g_end = [], []
        for r in range(twin.sizes["run"]):
            at_peak = dict(step=t.loc[r, "peak_step"])
            er0 = float(twin["spectrum_effrank"].sel(layer=l, **at_peak).values[r])
            er1 = float(twin["spectrum_effrank"].sel(layer=l).isel(step=-1).values[r])
            g0 = float(gauss.sel(layer=l, **at_peak).values[r])
            g1 = float(gauss.sel(layer=l).isel(step=-1).values[r])
            print(f"\nlayer {l} run {r}: local rank {t.loc[r, 'peak']:.1f} -> {t.loc[r, 'final']:.1f}, "
                  f"effective rank {er0:.2f} -> {er1:.2f}, Gaussian proxy {g0:.1f} -> {g1:.1f}")
            assert er1 < er0
            g_peak.append(g0)
            g_end.append(g1)
        print(f"layer {l}: Gaussian proxy, mean over seeds, {np.mean(g_peak):.1f} -> {np.mean(g_end):.1f}")
        if l < L:
            assert np.mean(g_end) < np.mean(g_peak)
