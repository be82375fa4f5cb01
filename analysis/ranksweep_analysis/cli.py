"""The console commands an installed package puts on PATH (pyproject.toml,
[project.scripts]); each is the same program as analysis/plot_*.py:

    ranksweep-plot-localrank ARCHIVE.h5 -o FIG.png    (plot_localrank.py)
    ranksweep-plot-info ARCHIVE.h5 -o FIG.png         (plot_info.py)
    ranksweep-plot-vib ARCHIVE.h5 -o FIG.png          (python -m ranksweep_analysis.plots.vib)
    ranksweep-plot-ib ARCHIVE.h5 -o FIG.png           (plot_ib.py: vib with --theory on)
"""
from .plots import info as _info
from .plots import layout as _layout
from .plots import localrank as _localrank
from .plots import vib as _vib


def localrank():
    return _layout.run_main(_localrank.main)


def info():
    return _layout.run_main(_info.main)


def vib():
    return _layout.run_main(_vib.main)


def ib():
    return _layout.run_main(lambda: _vib.main(theory_default=True))
