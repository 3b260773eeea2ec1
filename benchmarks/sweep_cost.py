"""What a run over several data sets costs, on paper, before it is submitted to a cluster.

Reads config.yaml with the given presets over it (as `--configfile` does) and prices every job the
run would start: per data set and size, the CPU core-hours (the jobs' threads times their hours),
the GPU-hours, the longest job and the memory of the largest. A job's time on RetinaMNIST at 28 px
is what it took in the committed runs: the default run on 2 CPU cores with bf16 (fp32 takes about
three times as long: README, Run) (benchmarks/results/retinamnist-default/summary.csv) and on one H200
(benchmarks/results/gpu-h200/pipeline_stages.tsv); every other data set and size scales it as the
workflow scales its requests (darts_bohb.settings.job_scale: the cost table of image sizes, and the
training images). Sizes beyond 128 px were not measured: their lines say "extrapolated". The memory
is the peak of a job at 28 px (803 MB, the search's, from benchmarks/cost_vs_size.py) scaled alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import update_config

from darts_bohb.settings import job_scale
from darts_bohb.tasks import medmnist_info, train_images

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PEAK_MB_AT_28 = 803  # benchmarks/cost_vs_size.py: the search's peak resident memory at 28 px
MEASURED_SIZES = (28, 64, 128)
# The rules of each method: the search is NAS's alone; the seconds columns of summary.csv.
STAGES = {"search": "darts_search", "bohb": "bohb", "final": "final"}


def reference_seconds() -> pd.DataFrame:
    """Mean seconds of one job per method and stage on RetinaMNIST at 28 px: CPU and GPU."""
    cpu = pd.read_csv(RESULTS / "retinamnist-default" / "summary.csv").query("output == 'incumbent'")
    gpu = pd.read_csv(RESULTS / "gpu-h200" / "pipeline_stages.tsv", sep="\t").set_index("rule")["mean_s"]
    rows = []
    for method in ("nas", "random", "baseline"):
        for stage, rule in STAGES.items():
            if stage == "search" and method != "nas":
                continue
            name = rule if method == "nas" else f"{method}_{rule}"
            cpu_seconds = cpu.loc[cpu["method"] == method, f"seconds_{stage}"].mean()
            rows.append({"method": method, "rule": name, "cpu_s": cpu_seconds, "gpu_s": gpu[name]})
    return pd.DataFrame(rows)


def price(config: dict) -> pd.DataFrame:
    seeds = {"nas": config["seeds"], "random": config.get("random", {}).get("seeds", config["baseline"]["seeds"]),
             "baseline": config["baseline"]["seeds"]}
    reference = reference_seconds()
    retina = train_images("retinamnist", None, medmnist_info())
    rows = []
    for entry in config["datasets"]:
        images = train_images(entry["flag"], entry.get("source"), medmnist_info())
        scale = job_scale(config, entry["size"], images)
        at_reference = job_scale(config, 28, retina)["time"]
        factor = scale["time"] / at_reference
        jobs = reference.assign(n=[len(seeds[method]) for method in reference["method"]])
        rows.append({
            "dataset": f"{entry['flag']}_{entry['size']}",
            "train_images": images,
            "jobs": int(jobs["n"].sum()),
            "cpu_core_hours": (jobs["n"] * jobs["cpu_s"]).sum() * factor / 3600,  # one thread per job
            "gpu_hours": (jobs["n"] * jobs["gpu_s"]).sum() * factor / 3600,
            "longest_job_cpu_hours": jobs["cpu_s"].max() * factor / 3600,
            "peak_memory_gb": PEAK_MB_AT_28 * scale["memory"] / 1000,
            "measured": entry["size"] in MEASURED_SIZES,
        })
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("presets", nargs="*", type=Path, help="config files given after config.yaml")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for preset in args.presets:
        update_config(config, yaml.safe_load(preset.read_text()))
    table = price(config)
    shown = table.assign(note=table["measured"].map({True: "", False: "extrapolated"})).drop(columns="measured")
    print(shown.to_string(index=False, float_format=lambda value: f"{value:,.1f}"))
    print(f"\n{len(table)} data set(s), {table['jobs'].sum()} training jobs: {table['cpu_core_hours'].sum():,.0f} "
          f"CPU core-hours, {table['gpu_hours'].sum():,.1f} GPU-hours (H200, jobs sharing the card as measured), "
          f"largest job {table['peak_memory_gb'].max():,.1f} GB"
          + (f"; {int((~table['measured']).sum())} data set(s) at sizes not measured" if not table["measured"].all()
             else ""))


if __name__ == "__main__":
    main()
