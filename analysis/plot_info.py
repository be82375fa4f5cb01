#!/usr/bin/python3
"""An information proxy (rate, H(Y) - loss, representation-spectrum proxy)
against local rank over training: a thin wrapper over
ranksweep_analysis.plots.info.

    /usr/bin/python3 analysis/plot_info.py ARCHIVE.h5 -o FIG.png [--proxy auto|rate|info_y|gauss|spectrum_effrank]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ranksweep_analysis.plots import info, layout  # noqa: E402

if __name__ == "__main__":
    sys.exit(layout.run_main(info.main))
