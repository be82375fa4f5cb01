"""ranksweep_analysis: read ranksweep archives (HDF5, format versions 1 and 2)
into xarray/pandas and answer the usual questions about local rank.

    import ranksweep_analysis as ra
    ds = ra.load("sweep.h5")            # xarray Dataset: run, step, layer, eps, ...
    ra.runs("sweep.h5")                 # pandas DataFrame of runs and parameters
    lr3 = ra.lr_at(ds, 0.01, layer=3)   # [run, step]; an absent eps is an error
    ra.fall_step(lr3, 0.5)              # per run: peak, and the step it falls below half of it
    ra.group_stats(ra.lr_at(ds, 0.01))  # mean, std, n over seeds per group
"""
from .archive import ArchiveError, configs, data_kind, load, open_h5, runs  # noqa: F401
from .helpers import (eps_index, fall_step, group_labels, group_stats, lr_at, seed_groups,  # noqa: F401
                      steps_of)
