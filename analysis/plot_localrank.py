#!/usr/bin/python3
"""Local rank against training step per layer (mean and band over seeds):
a thin wrapper over ranksweep_analysis.plots.localrank.

    /usr/bin/python3 analysis/plot_localrank.py ARCHIVE.h5 -o FIG.png [--eps 0.01] [--csv F.csv]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ranksweep_analysis.plots import layout, localrank  # noqa: E402

if __name__ == "__main__":
    sys.exit(layout.run_main(localrank.main))
