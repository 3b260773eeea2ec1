import json
import os
import shlex
import sys

# The package's config checks import nothing heavy; reading them from the source tree keeps
# them available even where Snakemake runs outside the package's environment.
sys.path.insert(0, workflow.basedir)
from darts_bohb.settings import ConfigError, validate_config  # noqa: E402

try:
    validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))
except ConfigError as error:
    raise WorkflowError(f"config: {error}") from None

SEEDS = config["seeds"]
# The random-cell control runs on the baseline's seeds unless random.seeds says otherwise.
RANDOM_SEEDS = config.get("random", {}).get("seeds", config["baseline"]["seeds"])
DATA_FILE = f"results/data/{config['dataset']['flag']}_{config['dataset']['size']}.npz"


wildcard_constraints:
    seed=r"\d+",
    dataset=r"[a-z0-9]+",
    size=r"\d+",


def script_path(name):
    """The CLI of a rule, relative to the working directory: Snakemake reruns a job whose params
    changed, so an absolute path would rerun everything once the checkout is moved."""
    return os.path.relpath(os.path.join(workflow.basedir, "scripts", name))


def settings_json(section):
    """A config section as one JSON argument; a changed value makes Snakemake rerun the rule."""
    return json.dumps(config[section], sort_keys=True)


def rule_resources(family):
    """Memory (MB) and wall-clock limit (minutes) of one family of training rules, as the
    config's resources section gives them, and one GPU when the config says `runtime.device: cuda`.
    The SLURM executor turns them into sbatch's --mem, --time and --gpus; `device: auto`
    asks for no GPU, so a cluster run without GPUs never waits for a GPU node.
    `gpu_slots` counts the jobs that share one machine's GPU: `--resources gpu_slots=N` lets
    N of them run at once (README, GPU section); SLURM ignores it."""
    spec = config["resources"][family]
    resources = {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"]}
    if config["runtime"]["device"] == "cuda":
        resources |= {"gpu": 1, "gpu_slots": 1}
    return resources


def task_argument():
    """--task for a data set of the user's own (dataset.task); "" for MedMNIST's sets, whose task
    comes from medmnist.INFO."""
    task = config["dataset"].get("task")
    return f" --task {shlex.quote(task)}" if task else ""


def dataset_argument():
    """The value of --dataset, with --task appended for a data set of the user's own: one
    parameter, so that for MedMNIST's sets the command lines and params stay exactly as they were
    and Snakemake's rerun triggers leave results made before data sets of one's own existed."""
    return config["dataset"]["flag"] + task_argument()


def local_dataset_source(wildcards):
    """The local copy named by `dataset.source`, if any: then it is an input, so Snakemake
    checks that it exists and reruns the copy when it changes."""
    source = config["dataset"].get("source")
    requested = (wildcards.dataset, int(wildcards.size))
    if source and requested == (config["dataset"]["flag"], config["dataset"]["size"]):
        return source
    return []


def report_targets():
    """Every file the rules of report.smk write (figures, summary), for rule all."""
    report_rules = (
        rules.plot_bohb_progress,
        rules.plot_arch_weights,
        rules.plot_cells,
        rules.plot_scores,
        rules.report,
    )
    return [str(path) for report_rule in report_rules for path in report_rule.output]


# The final folder of a seed of each method, below results/ (the export_onnx rule's wildcard).
FINAL_DIR_PATTERN = r"(?:baseline/|random/)?final/seed\d+"


def final_dirs():
    """results/.../final/seed{s} of every seed of every method: the folders a final model is in."""
    return (
        expand("results/final/seed{seed}", seed=SEEDS)
        + expand("results/baseline/final/seed{seed}", seed=config["baseline"]["seeds"])
        + expand("results/random/final/seed{seed}", seed=RANDOM_SEEDS)
    )


def all_targets():
    """Per-seed results of the three methods, then the figures and the report that compare them."""
    return (
        expand("results/search/seed{seed}/genotype.json", seed=SEEDS)
        + expand("results/final/seed{seed}/metrics.json", seed=SEEDS)
        + expand("results/baseline/final/seed{seed}/metrics.json", seed=config["baseline"]["seeds"])
        + expand("results/random/final/seed{seed}/metrics.json", seed=RANDOM_SEEDS)
        + [f"{folder}/model.onnx" for folder in final_dirs()]
        + report_targets()
    )
