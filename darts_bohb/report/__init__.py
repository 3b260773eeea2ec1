"""Plots and the summary report across seeds, built only from files earlier rules wrote.

run reads the run's manifest (report.smk's one description of the run) and the files it names;
one module draws each figure; ensemble scores the mean test probabilities of each method's seeds;
comparisons pairs the methods by seed and test image; summary builds reports/summary.csv and
reports/summary.md. Nothing here trains or reads a data set.
"""
