#!/usr/bin/python3
"""Final local rank, rate and H(Y) - loss against beta_vib with the Gaussian
information bottleneck's closed form, for a VIB sweep on gaussian_ib data
(jobs/gaussian-ib.yaml); refuses other data kinds. A thin wrapper over
ranksweep_analysis.plots.vib with --theory on (use that module without
--theory for an MNIST VIB sweep).

    /usr/bin/python3 analysis/plot_ib.py ARCHIVE.h5 -o FIG.png [--eps 0.01] [--csv F.csv]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ranksweep_analysis.plots import layout, vib  # noqa: E402

if __name__ == "__main__":
    sys.exit(layout.run_main(lambda: vib.main(theory_default=True)))
