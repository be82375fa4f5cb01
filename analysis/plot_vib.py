#!/usr/bin/python3
"""Final local rank against beta_vib for any VIB beta sweep (add --theory for
gaussian_ib data): a thin wrapper over ranksweep_analysis.plots.vib.

    /usr/bin/python3 analysis/plot_vib.py ARCHIVE.h5 -o FIG.png [--eps 0.01] [--theory] [--csv F.csv]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ranksweep_analysis.plots import layout, vib  # noqa: E402

if __name__ == "__main__":
    sys.exit(layout.run_main(vib.main))
