# The run's manifest that every report script reads, and the paths in it: the one place that says
# where the files of each seed lie. Kept apart from the rules of report.smk, as Snakemake's linter
# asks of functions.

REPORT_SEEDS = {"nas": SEEDS, "random": RANDOM_SEEDS, "baseline": config["baseline"]["seeds"]}


class Manifest(dict):
    """The run's description: a mapping for the captions, one JSON argument in a shell command."""

    def __format__(self, spec):
        return format(json.dumps(self), spec)


def run_paths(method, seed):
    """The files of one seed of one method that the report rules read."""
    prefix, rule = ("", "") if method == "nas" else (f"{method}/", f"{method}_")
    bohb, final = f"results/{prefix}bohb/seed{seed}", f"results/{prefix}final/seed{seed}"
    paths = {
        "trajectory": f"{bohb}/trajectory.csv",
        "runhistory": f"{bohb}/runhistory.csv",
        "metrics": f"{final}/metrics.json",
        "predictions": f"{final}/predictions.csv",
        "ensemble_metrics": f"{final}/ensemble/metrics.json",
        "ensemble_predictions": f"{final}/ensemble/predictions.csv",
        "benchmark_bohb": f"results/benchmarks/{rule}bohb/seed{seed}.tsv",
        "benchmark_final": f"results/benchmarks/{rule}final/seed{seed}.tsv",
    }
    if method == "nas":
        search = f"results/search/seed{seed}"
        paths |= {
            "alphas": f"{search}/alphas.csv",
            "search": f"{search}/search.json",
            "genotype": f"{search}/genotype.json",
            "benchmark_search": f"results/benchmarks/darts_search/seed{seed}.tsv",
        }
    return paths


def run_manifest(methods=tuple(REPORT_SEEDS)):
    """The manifest of the methods that one report rule covers; as a param, a changed seed list
    reruns the rules it concerns."""
    return Manifest(
        dataset=config["dataset"]["flag"],
        size=config["dataset"]["size"],
        task=config["dataset"].get("task"),
        metric=config["hpo"]["metric"],
        seeds={method: REPORT_SEEDS[method] for method in methods},
        runs=[{"method": m, "seed": seed, **run_paths(m, seed)} for m in methods for seed in REPORT_SEEDS[m]],
    )


def run_inputs(*kinds, methods=tuple(REPORT_SEEDS)):
    """The files of `kinds` of every seed of `methods`: the inputs behind the manifest's paths."""
    return [run[kind] for run in run_manifest(methods)["runs"] for kind in kinds]


def report_file(path, caption, category, subcategory="all seeds"):
    """An output shown by `snakemake --report`, grouped by stage and seed."""
    return report(path, caption=f"../report/{caption}.rst", category=category, subcategory=subcategory)
