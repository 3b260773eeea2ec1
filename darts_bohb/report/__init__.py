"""Plots and the summary report across seeds, built only from files earlier rules wrote.

collect reads the result files into tidy frames; one module draws each figure; ensemble scores
the mean test probabilities of each method's seeds (reports/ensemble.csv); selection sets each
seed's two outputs (incumbent, per-seed ensemble) against their selection estimates; summary builds
reports/summary.csv and reports/summary.md. Nothing here trains or reads a data set.
"""
