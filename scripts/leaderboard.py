"""Write the leaderboard across data sets (each --output's kind follows its extension: .csv, .md, .png, .svg)."""

import argparse
import json
import sys

from darts_bohb.report.leaderboard import write_leaderboard
from darts_bohb.report.run import run_reporting

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, type=json.loads, help="the data sets (JSON), as report.smk passes them")
    parser.add_argument("--output", nargs="+", required=True, help="leaderboard.csv, leaderboard.md and the figures")
    args = parser.parse_args()
    sys.exit(run_reporting(lambda: write_leaderboard(args.run["datasets"], args.output)))
