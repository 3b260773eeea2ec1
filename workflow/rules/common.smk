import json
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
DATA_FILE = f"results/data/{config['dataset']['flag']}_{config['dataset']['size']}.npz"


wildcard_constraints:
    seed=r"\d+",
    dataset=r"[a-z0-9]+",
    size=r"\d+",


def script_path(name):
    """The CLI of a rule, found relative to this workflow, wherever it is run from."""
    return f"{workflow.basedir}/scripts/{name}"


def settings_json(section):
    """A config section as one JSON argument; a changed value makes Snakemake rerun the rule."""
    return json.dumps(config[section], sort_keys=True)


def rule_resources(family):
    spec = config["resources"][family]
    return {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"]}


def local_dataset_source(wildcards):
    """The local copy named by `dataset.source`, if any: then it is an input, so Snakemake
    checks that it exists and reruns the copy when it changes."""
    source = config["dataset"].get("source")
    requested = (wildcards.dataset, int(wildcards.size))
    if source and requested == (config["dataset"]["flag"], config["dataset"]["size"]):
        return source
    return []


def all_targets():
    return expand("results/search/seed{seed}/genotype.json", seed=SEEDS)
