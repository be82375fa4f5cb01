"""Panel grids that stay legible from 1 to 30 groups: panels wrap into rows
of at most five, titles are wrapped to the panel width and kept inside the
figure, legends sit outside the panels, and the saved image is cropped to
include everything (nothing clipped)."""
import math
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..archive import ArchiveError  # noqa: E402

MAX_COLS = 5


def grid(n, panel=(3.8, 2.9), rows_per_group=1, sharey=False):
    """A figure with n panel slots (each `rows_per_group` axes tall), wrapped
    into at most MAX_COLS columns. Returns fig and a list of n lists of axes;
    unused slots are hidden."""
    ncols = min(max(n, 1), MAX_COLS)
    nrows = math.ceil(max(n, 1) / ncols)
    if ncols <= 2:  # few panels: wider ones, so the figure title has room
        panel = (max(panel[0], 5.5 if ncols == 1 else 4.6), panel[1] * 1.2)
    fig, axes = plt.subplots(nrows * rows_per_group, ncols, squeeze=False, sharey=sharey,
                             figsize=(panel[0] * ncols, panel[1] * nrows * rows_per_group + 0.9))
    slots = []
    for i in range(nrows * ncols):
        r, c = divmod(i, ncols)
        axs = [axes[r * rows_per_group + k, c] for k in range(rows_per_group)]
        if i < n:
            slots.append(axs)
        else:
            for a in axs:
                a.set_visible(False)
    return fig, slots


def title(ax, text, width=38):
    ax.set_title("\n".join(textwrap.wrap(text, width)) or text, fontsize=9)


def finish(fig, suptitle, handles, labels, out, legend_title=None, colorbar=None):
    """Figure title inside the figure, one legend outside the panels (right),
    layout tightened, saved cropped to every artist."""
    # About 11 characters of an 11-point title per inch of figure width.
    lines = textwrap.wrap(suptitle, max(30, int(fig.get_figwidth() * 9)))
    st = fig.suptitle("\n".join(lines), fontsize=11, y=0.995, va="top")
    # Room for the title at the top (in inches, added to the figure so the
    # panels keep their size).
    room = 0.3 + 0.22 * len(lines)
    fig.set_figheight(fig.get_figheight() - 0.9 + room)
    fig.tight_layout()  # it leaves room for the suptitle itself
    extra = [st]
    if handles:
        leg = fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.97), fontsize=9,
                         title=legend_title, frameon=False)
        extra.append(leg)
    if colorbar is not None:
        # Outside the panels, under the legend: added after the layout so
        # tight_layout never has to place it.
        mappable, label = colorbar
        cax = fig.add_axes((1.02, 0.06, 0.018, 0.35))
        cb = fig.colorbar(mappable, cax=cax)
        cax.yaxis.set_ticks_position("right")
        cax.yaxis.set_label_position("right")
        cb.set_label(label, fontsize=8)
        extra.append(cax)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight", bbox_extra_artists=extra)
    plt.close(fig)


def logstep(steps):
    """Steps for a log axis: step 0 drawn at 0.5."""
    import numpy as np
    s = np.asarray(steps, float)
    return np.where(s > 0, s, 0.5)


def run_main(fn):
    """Runs a figure's main(): user errors print one line and exit 1."""
    try:
        return fn()
    except ArchiveError as e:
        prog = os.path.basename(sys.argv[0])
        print(f"{prog}: {e}", file=sys.stderr)
        return 1


def csv_path(out, csv):
    return csv if csv else os.path.splitext(out)[0] + ".csv"
