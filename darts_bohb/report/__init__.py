"""Plots and the summary report across seeds, built only from files earlier rules wrote.

run reads a data set's manifest (report.smk's one description of its run) and the files it names;
one module draws each figure; comparisons scores each method's seed ensemble and pairs the methods by
seed and test image; summary builds each data set's summary.csv and summary.md; leaderboard compares
the data sets from those reports. Nothing here trains or reads a data set."""
