import json
import math
import os
import shlex
import sys

# The package's config checks import nothing heavy; reading them from the source tree keeps
# them available even where Snakemake runs outside the package's environment.
sys.path.insert(0, workflow.basedir)
from darts_bohb.settings import ConfigError, job_scale, validate_config  # noqa: E402
from darts_bohb.tasks import medmnist_info, train_images  # noqa: E402

try:
    validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))
except ConfigError as error:
    raise WorkflowError(f"config: {error}") from None

# Every data set of the run, by the folder its results go to: results/{flag}_{size}/.
DATASETS = {f"{entry['flag']}_{entry['size']}": entry for entry in config["datasets"]}
# The seeds of each method; the random-cell control takes the baseline's unless random.seeds says otherwise.
METHOD_SEEDS = {
    "nas": config["seeds"],
    "random": config.get("random", {}).get("seeds", config["baseline"]["seeds"]),
    "baseline": config["baseline"]["seeds"],
}
RUN = "results/{flag}_{size}"
DATA_FILE = f"{RUN}/data.npz"


wildcard_constraints:
    seed=r"\d+",
    flag=r"[a-z0-9]+",
    size=r"\d+",


def method_dir(method, stage):
    """Where one seed of a method keeps its BOHB run or final model (stage bohb | final), below RUN."""
    folder = stage if method == "nas" else f"{method}/{stage}"
    return f"{RUN}/{folder}/seed{{seed}}"


def bohb_files(method):
    """The outputs of a method's BOHB job; SMAC's run folder beside them (bohb/seed{seed}/smac/) is
    deliberately not one: Snakemake would delete it before a rerun, and a rerun should continue it."""
    names = ("incumbent.json", "trajectory.csv", "runhistory.csv", "ensemble.pt")
    return {name.split(".")[0]: f"{method_dir(method, 'bohb')}/{name}" for name in names}


def final_files(method):
    """The outputs of a method's final job: the incumbent retrained and scored, and the seed's ensemble."""
    folder = method_dir(method, "final")
    names = {
        "metrics": "metrics.json",
        "predictions": "predictions.csv",
        "model": "model.pt",
        "architecture": "architecture.json",
        "model_card": "MODEL_CARD.md",
        "ensemble_metrics": "ensemble/metrics.json",
        "ensemble_predictions": "ensemble/predictions.csv",
    }
    return {key: f"{folder}/{name}" for key, name in names.items()}


def job_files(rule_name):
    return f"{RUN}/logs/{rule_name}/seed{{seed}}.log", f"{RUN}/benchmarks/{rule_name}/seed{{seed}}.tsv"


def script_path(name):
    """The CLI of a rule, relative to the working directory: Snakemake reruns a job whose params
    changed, so an absolute path would rerun everything once the checkout is moved."""
    return os.path.relpath(os.path.join(workflow.basedir, "scripts", name))


def settings_json(section):
    """A config section as one JSON argument; a changed value makes Snakemake rerun the rule."""
    return json.dumps(config[section], sort_keys=True)


def dataset(wildcards):
    return DATASETS[f"{wildcards.flag}_{wildcards.size}"]


def task_argument(wildcards):
    """--task for a data set of the user's own (its `task`); "" for MedMNIST's sets, whose task
    comes from medmnist.INFO."""
    task = dataset(wildcards).get("task")
    return f"--task {shlex.quote(task)}" if task else ""


def rule_resources(family):
    """Memory (MB) and wall-clock limit (minutes) of a job of one family of training rules: the
    config's values at 28 px scaled by the image size (resources.by_size), the time also by the data
    set's training images; and one GPU when the config says `runtime.device: cuda`. The SLURM
    executor turns them into sbatch's --mem, --time and --gpus; `device: auto` asks for no GPU, so a
    cluster run without GPUs never waits for a GPU node. `gpu_slots` counts the jobs that share one
    machine's GPU: `--resources gpu_slots=N` lets N of them run at once (docs/gpu.md); SLURM ignores it."""
    spec = config["resources"][family]

    def scale(wildcards):
        entry = dataset(wildcards)
        images = train_images(entry["flag"], entry.get("source"), medmnist_info())
        return job_scale(config, entry["size"], images)

    resources = {
        "mem_mb": lambda w: math.ceil(spec["mem_mb"] * scale(w)["memory"]),
        "runtime": lambda w: math.ceil(spec["runtime"] * scale(w)["time"]),
    }
    if config["runtime"]["device"] == "cuda":
        resources |= {"gpu": 1, "gpu_slots": 1}
    return resources


def local_dataset_source(wildcards):
    """The local copy named by a data set's `source`, if any: then it is an input, so Snakemake
    checks that it exists and reruns the copy when it changes."""
    return dataset(wildcards).get("source") or []


def all_targets():
    """Every final model as ONNX, and the leaderboard across data sets: it reads every data set's
    report, which reads every search, BOHB run and final model, so these two need every job."""
    onnx = [
        f"{method_dir(method, 'final')}/model.onnx".format(flag=entry["flag"], size=entry["size"], seed=seed)
        for entry in DATASETS.values()
        for method, seeds in METHOD_SEEDS.items()
        for seed in seeds
    ]
    return onnx + [f"{LEADERBOARD}.csv"]
