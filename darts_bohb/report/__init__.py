"""Plots and the summary report across seeds, built only from files earlier rules wrote: nothing
here trains or reads a data set."""
