"""Run the DARTS search for one seed (resuming from --state-dir if a matching state is there)."""

import argparse
import json
import logging
import sys

from darts_bohb.darts import search_to_files
from darts_bohb.data import DatasetError
from darts_bohb.runtime import RuntimeConfigError, make_runtime
from darts_bohb.settings import ConfigError, SearchSettings, from_dict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="the MedMNIST .npz")
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. retinamnist")
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--settings", required=True, help="the config's search section as JSON")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--state-dir", required=True, help="where the per-epoch state is kept")
    parser.add_argument("--alphas", required=True, help="output: alphas.csv")
    parser.add_argument("--epochs", required=True, help="output: epochs.csv")
    parser.add_argument("--summary", required=True, help="output: search.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        try:
            raw_settings = json.loads(args.settings)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--settings: not valid JSON ({error})") from error
        settings = from_dict(SearchSettings, raw_settings, "search")
        runtime = make_runtime(args.device, args.precision, args.threads)
        search_to_files(args.data, args.seed, args.dataset, args.size, settings, runtime, args.state_dir,
                        args.alphas, args.epochs, args.summary)
    except (ConfigError, DatasetError, RuntimeConfigError) as error:
        logging.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
