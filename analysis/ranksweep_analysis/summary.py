"""The numbers behind the reproduction report, per hidden layer of an MLP
archive: the mean local rank (and its sd over runs) at step 0, at each run's
peak and at its last checkpoint, the final/peak ratio, and the step after the
peak at which it first falls below a fraction of the peak (median over runs).
Only finished runs count.

    /usr/bin/python3 -m ranksweep_analysis.summary ARCHIVE.h5 [--eps 0.01] [--fraction 0.75] [--csv OUT.csv]
"""
import argparse
import sys

import numpy as np
import pandas as pd

from .archive import ArchiveError, load
from .helpers import fall_step, lr_at


def summary(path, eps=0.01, fraction=0.75):
    ds = load(path)
    done = np.asarray(ds["done"].values).astype(bool) if "done" in ds else np.ones(ds.sizes["run"], bool)
    rows = []
    for layer in ds["layer"].values:
        da = lr_at(ds, eps, layer=int(layer)).isel(run=np.flatnonzero(done))
        if da.sizes["run"] == 0:
            raise ArchiveError(f"{path}: no finished run")
        fs = fall_step(da, fraction)
        fall = fs["fall_step"].dropna()
        first = np.asarray(da.isel({da.dims[1]: 0}).values, float)
        ratio = fs["final"] / fs["peak"]
        rows.append({"layer": int(layer), "eps": eps, "runs": int(da.sizes["run"]),
                     "step0_mean": np.nanmean(first), "step0_sd": np.nanstd(first, ddof=1) if len(first) > 1 else 0.0,
                     "peak_mean": fs["peak"].mean(), "peak_step_median": fs["peak_step"].median(),
                     "final_mean": fs["final"].mean(), "final_sd": fs["final"].std(ddof=1) if len(fs) > 1 else 0.0,
                     "final_over_peak_mean": ratio.mean(), "final_over_peak_min": ratio.min(),
                     "final_over_peak_max": ratio.max(),
                     f"fall_below_{fraction:g}_peak_step_median": fall.median() if len(fall) else np.nan,
                     "runs_falling": int(len(fall))})
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive")
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--fraction", type=float, default=0.75)
    ap.add_argument("--csv", help="write the table here as CSV")
    a = ap.parse_args(argv)
    try:
        t = summary(a.archive, a.eps, a.fraction)
    except ArchiveError as e:
        print(f"summary: {e}", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(t.round(3).to_string(index=False))
    if a.csv:
        t.to_csv(a.csv, index=False, float_format="%.6g")
    return 0


if __name__ == "__main__":
    sys.exit(main())
