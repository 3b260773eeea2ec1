"""The figures and reports, built only from files earlier rules wrote: nothing here trains or reads data."""
