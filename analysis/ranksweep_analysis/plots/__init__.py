"""Figures from ranksweep archives, one module per figure kind; each has
data() (the numbers, also written as CSV), draw() and main() (the command
line: /usr/bin/python3 -m ranksweep_analysis.plots.KIND ARCHIVE.h5 -o FIG.png)."""
