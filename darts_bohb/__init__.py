"""DARTS with skip prevention and flexible cell stacking, tuned by BOHB, for MedMNIST."""

__version__ = "0.1.0"
