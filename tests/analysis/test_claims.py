"""Tests of the paper's qualitative claims (Patel & Shwartz-Ziv 2024,
"Learning to Compress: Local Rank and Information Compression in Deep
Neural Networks") on reduced twins of its experiments, run with the real
ranksweep on 3 ranks and read through ranksweep_analysis. They assert
shapes and orders, not golden numbers; each test names its claim.

Archives: jobs/twin-gaussian.yaml (4 seeds, 4 hidden layers, 40,000 steps,
representation spectra at every checkpoint) and jobs/gaussian-ib.yaml (the
linear VIB of tests/e2e/gaussian_ib.sh, which asserts the exact ranks at five
betas; here the transitions are located on the whole beta grid).

Every check is a function of ranksweep_analysis.claims returning pass/fail;
each test also runs it on a negative control (the same data altered so that
the claim is false) and asserts that the check rejects it."""
import numpy as np
import pytest

import ranksweep_analysis as ra
from ranksweep_analysis import claims, theory

EPS = 0.01        # the paper's threshold
DEEPEST_FRACTION = 0.5


@pytest.fixture(scope="module")
def twin(twin_gaussian):
    return ra.load(twin_gaussian)


@pytest.fixture(scope="module")
def gib(gaussian_ib):
    return ra.load(gaussian_ib)


def _curves(ds, eps=EPS):
    """{layer: [run, checkpoint]} local rank at eps."""
    lr = ra.lr_at(ds, eps)
    return {int(l): np.asarray(lr.sel(layer=l).transpose("run", "step").values, float) for l in ds["layer"].values}


def _no_late_fall(y):
    """Negative control: each run's curve held at its peak from the peak on
    (the curve without its late fall)."""
    y = y.copy()
    for c in y:
        i = int(np.argmax(c))
        c[i:] = c[i]
    return y


def test_claim_a_deepest_layer_compresses_for_every_seed(twin):
    """Claim (a): the local rank of the deepest hidden layer falls late in
    training: for every seed its final value at eps 0.01 is below half of
    its peak."""
    assert bool(twin["done"].all()) and twin.sizes["run"] >= 3
    y = _curves(twin)[int(twin["layer"].max())]
    ok, detail = claims.falls_below(y, DEEPEST_FRACTION)
    print("\n" + detail)
    assert ok
    # negative controls: the curve without its late fall, and the curve reversed in time
    assert not claims.falls_below(_no_late_fall(y), DEEPEST_FRACTION)[0]
    assert not claims.falls_below(y[:, ::-1], DEEPEST_FRACTION)[0]


def test_claim_a_every_hidden_layer_after_the_first_falls_for_every_seed(twin):
    """Claim (a), per layer and per seed: every hidden layer 2..L ends below
    9/10 of its own peak in every seed."""
    c = _curves(twin)
    L = max(c)
    for l in range(2, L + 1):
        ok, detail = claims.falls_below(c[l], 0.9)
        print(f"\nlayer {l}:\n{detail}")
        assert ok, l
        assert not claims.falls_below(_no_late_fall(c[l]), 0.9)[0]


def test_claim_a_deeper_layers_fall_further(twin):
    """Claim (a): deeper layers compress more: for every seed the fraction
    of its peak that a layer keeps at the end decreases with depth over the
    layers 2..L; layer 1 (J_1 = W_1) keeps its full rank min(d0, n_1)."""
    c = _curves(twin)
    L = max(c)
    kept = np.array([claims.kept_fraction(c[l]) for l in range(2, L + 1)])  # [layer, seed]
    ok, detail = claims.deeper_falls_further(kept)
    print("\n" + detail)
    assert ok
    assert not claims.deeper_falls_further(kept[::-1])[0]           # layers in reverse order
    assert not claims.deeper_falls_further(kept[[1, 0] + list(range(2, len(kept)))])[0]  # two swapped
    assert (c[1] == min(24, 40)).all()


def test_claim_a_the_fall_comes_after_the_fit(twin):
    """Claim (a): the compression is the final phase of training: when the
    training loss first drops below 1e-6 (thousands of steps after every
    training point is classified correctly, at ~50-130 steps) the deepest
    layer's local rank is still at least 0.9 of its peak, and it falls below
    3/4 of its peak only at a later checkpoint, in every seed."""
    L = int(twin["layer"].max())
    y = _curves(twin)[L]
    loss = np.asarray(twin["train_loss"].transpose("run", "step").values, float)
    steps = twin["step"].values
    ok, detail = claims.fall_after_fit(steps, y, loss, fit_loss=1e-6)
    print("\n" + detail)
    assert ok
    # negative control: the same curves with a fit that comes late (the loss
    # curve delayed so that it reaches 1e-6 only at the last checkpoint)
    late = np.where(np.arange(loss.shape[1]) < loss.shape[1] - 1, np.maximum(loss, 1.0), 1e-7)
    assert not claims.fall_after_fit(steps, y, late, fit_loss=1e-6)[0]
    # and curves that fall to half their peak while the data are being fitted
    early = y.copy()
    for r in range(len(y)):
        f = int(np.flatnonzero(loss[r] < 1e-6)[0])
        early[r, max(f - 1, 1):] = 0.5 * y[r].max()
    assert not claims.fall_after_fit(steps, early, loss, fit_loss=1e-6)[0]


def _ib_final(gib):
    from ranksweep_analysis.plots import vib
    df, rho = vib.data(gib, 0.03, theory=True)
    last = df[df["layer"] == df["layer"].max()].sort_values("beta_vib")
    return last, rho


def test_claim_b_vib_rank_steps_at_the_critical_betas(gib):
    """Claim (b): the local rank of a VIB encoder steps down as beta_vib
    crosses the Gaussian-bottleneck critical values rho_i^2: on the whole
    beta grid the final rank of the encoder mean (eps 0.03, the job's middle
    threshold) never rises with beta_vib, steps down once per critical value,
    and each step lies between the same two grid points as the closed form's
    step or one grid interval later (never earlier, never two later)."""
    assert ra.data_kind(gib) == "gaussian_ib"
    last, rho = _ib_final(gib)
    b, rank = last["beta_vib"].values, last["lr_mean"].values
    ok, detail = claims.steps_at_critical_betas(b, rank, rho)
    print("\n" + detail)
    assert ok
    # negative controls: every step shifted two grid points later, and one earlier
    two_late = np.concatenate([np.full(2, rank[0]), rank[:-2]])
    one_early = np.concatenate([rank[1:], rank[-1:]])
    assert not claims.steps_at_critical_betas(b, two_late, rho)[0]
    assert not claims.steps_at_critical_betas(b, one_early, rho)[0]
    # and the closed form's own ranks shifted two grid points later
    want = theory.curve(rho, b)[:, 0]
    assert claims.steps_at_critical_betas(b, want, rho)[0]
    assert not claims.steps_at_critical_betas(b, np.concatenate([np.full(2, want[0]), want[:-2]]), rho)[0]


def test_claim_c_vib_rate_and_rank_both_fall_with_beta(gib):
    """Claim (c) as far as the data carry it: across the VIB beta sweep the
    final local rank of the encoder mean never rises and the final rate
    (mean KL, an upper bound on I(Z;X)) strictly falls as beta_vib grows.
    (Both fall with beta; this does not show that one causes the other.)"""
    last, _ = _ib_final(gib)
    ok, detail = claims.both_fall_with_beta(last["beta_vib"].values, last["lr_mean"].values, last["rate"].values)
    print("\n" + detail)
    assert ok
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(len(last))
    assert not claims.both_fall_with_beta(last["beta_vib"].values, last["lr_mean"].values[shuffled],
                                          last["rate"].values[shuffled])[0]


def test_claim_c_vib_rate_falls_first_at_constant_rank(gib):
    """Claim (c) over training, per run: the rate ends below its start and
    the encoder mean's local rank below its maximum, and at least a tenth of
    the rate's fall happens before the rank first falls (the rate moves
    first, at constant rank; then the rank falls)."""
    from ranksweep_analysis.plots import info
    df, _ = info.data(gib, "rate", eps=0.03)
    df = df[df["layer"] == df["layer"].max()]
    rank = np.array([g.sort_values("step")["lr_mean"].values for _, g in df.groupby("group", sort=False)])
    rate = np.array([g.sort_values("step")["proxy_mean"].values for _, g in df.groupby("group", sort=False)])
    ok, detail = claims.rate_falls_before_rank(rank, rate)
    print("\n" + detail)
    assert ok
    # negative controls: time reversed; and the rank falling at the first checkpoint
    assert not claims.rate_falls_before_rank(rank[:, ::-1], rate[:, ::-1])[0]
    first = rank.copy()
    first[:, 0] = first.max() + 1
    assert not claims.rate_falls_before_rank(first, rate)[0]


def test_claim_c_spectrum_proxies_fall_with_the_local_rank(twin):
    """Claim (c) on the MLP twin, from the representation spectra (post-
    activation, training points) at every checkpoint: between the checkpoint
    of a layer's peak local rank and the end of training, the effective rank
    of the representation falls in every layer 2..L for every seed, and the
    Gaussian-channel proxy of I(X; T + sigma Z) at sigma 0.1, averaged over
    the seeds, falls in the layers 2..L-1. (Not asserted per seed, nor for
    the deepest layer: the representation's scale grows late in training, so
    a fixed-sigma proxy need not fall where the local rank does; the test
    prints every value, and the per-seed results.)"""
    assert "info_proxy" in twin and bool(twin["spectrum_effrank"].notnull().all())
    lr = ra.lr_at(twin, EPS)
    gauss = twin["info_proxy"].sel(noise=0.1)
    L = int(twin["layer"].max())
    for l in range(2, L + 1):
        t = ra.fall_step(lr.sel(layer=l), 0.5)
        er0, er1, g0, g1 = [], [], [], []
        for r in range(twin.sizes["run"]):
            at_peak = dict(step=t.loc[r, "peak_step"])
            er0.append(float(twin["spectrum_effrank"].sel(layer=l, **at_peak).values[r]))
            er1.append(float(twin["spectrum_effrank"].sel(layer=l).isel(step=-1).values[r]))
            g0.append(float(gauss.sel(layer=l, **at_peak).values[r]))
            g1.append(float(gauss.sel(layer=l).isel(step=-1).values[r]))
            print(f"\nlayer {l} run {r}: local rank {t.loc[r, 'peak']:.1f} -> {t.loc[r, 'final']:.1f}, "
                  f"effective rank {er0[-1]:.2f} -> {er1[-1]:.2f}, Gaussian proxy {g0[-1]:.1f} -> {g1[-1]:.1f}")
        ok, detail = claims.falls_between(er0, er1)
        assert ok, detail
        assert not claims.falls_between(er1, er0)[0]                      # time reversed
        per_seed = claims.falls_between(g0, g1)[0]
        print(f"layer {l}: Gaussian proxy, mean over seeds, {np.mean(g0):.1f} -> {np.mean(g1):.1f}; "
              f"falls in every seed: {per_seed}")
        if l < L:
            assert claims.falls_between([np.mean(g0)], [np.mean(g1)])[0]
            assert not claims.falls_between([np.mean(g1)], [np.mean(g0)])[0]


def test_load_with_spectra_and_the_spectrum_pass(twin_gaussian):
    """An archive with both the per-point Jacobian spectra and /spectrum
    loads with spectra=True (the two sets of singular values have their own
    dimensions, sv and feature, of different lengths), and the per-seed
    proxies table reads it."""
    from ranksweep_analysis import reproduction
    ds = ra.load(twin_gaussian, spectra=True)
    assert ds["spectra"].dims[-1] == "sv" and ds["spectrum_sv"].dims[-1] == "feature"
    assert ds.sizes["sv"] != ds.sizes["feature"]
    t = reproduction.proxies_table(twin_gaussian)
    assert len(t) == ds.sizes["run"] * ds.sizes["layer"] * ds.sizes["noise"]
    assert (t["lr_peak"] >= t["lr_final"]).all()
