# The run's manifest that every report script reads, from the layout common.smk gives every rule;
# apart from the rules of report.smk, as Snakemake's linter asks of functions.

REPORTS = "reports/{flag}_{size}"
LEADERBOARD = "reports/leaderboard"
REPORT_RESOURCES = {"mem_mb": 1000, "runtime": 10}  # of every report rule but the report's own bootstrap


class Manifest(dict):
    """A mapping for the captions, one JSON argument in a shell command."""

    def __format__(self, spec):
        return format(json.dumps(self), spec)


def run_paths(method):
    prefix = "" if method == "nas" else f"{method}_"
    bohb, final = bohb_files(method), final_files(method)
    paths = {key: bohb[key] for key in ("trajectory", "runhistory")}
    paths |= {key: final[key] for key in ("metrics", "predictions", "ensemble_metrics", "ensemble_predictions")}
    paths |= {"benchmark_bohb": job_files(f"{prefix}bohb")[1], "benchmark_final": job_files(f"{prefix}final")[1]}
    if method == "nas":
        search = f"{RUN}/search/seed{{seed}}"
        paths |= {"alphas": f"{search}/alphas.csv", "search": f"{search}/search.json"}
        paths |= {"genotype": f"{search}/genotype.json", "benchmark_search": job_files("darts_search")[1]}
    return paths


def run_manifest(methods=tuple(METHOD_SEEDS)):
    """The manifest of the methods that one report rule covers, for the data set of its wildcards;
    as a param, a changed seed list reruns the rules it concerns."""

    def manifest(wildcards):
        entry = dataset(wildcards)
        runs = [
            {"method": method, "seed": seed}
            | {kind: path.format(**entry, seed=seed) for kind, path in run_paths(method).items()}
            for method in methods
            for seed in METHOD_SEEDS[method]
        ]
        seeds = {method: METHOD_SEEDS[method] for method in methods}
        data_set = {"dataset": entry["flag"], "size": entry["size"], "task": entry.get("task")}
        return Manifest(**data_set, metric=config["hpo"]["metric"], seeds=seeds, runs=runs)

    return manifest


def run_inputs(*kinds, methods=tuple(METHOD_SEEDS)):
    return lambda wildcards: [run[kind] for run in run_manifest(methods)(wildcards)["runs"] for kind in kinds]


def report_file(name, caption, stage):
    """reports/{flag}_{size}/NAME, shown by `snakemake --report` under its data set and stage."""
    return report(f"{REPORTS}/{name}", caption=f"../report/{caption}.rst", category="{flag}_{size}", subcategory=stage)


def leaderboard_manifest():
    entries = [{key: entry.get(key) for key in ("flag", "size", "task")} for entry in DATASETS.values()]
    return Manifest(datasets=[entry | {"reports": REPORTS.format(**entry)} for entry in entries])
