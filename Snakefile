# darts-bohb: DARTS search with skip prevention, then BOHB over networks stacked from the
# searched cell, per seed, against a plain-CNN baseline under the same protocol.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/hpo.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/random.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/deploy.smk"


rule all:
    default_target: True
    input:
        all_targets(),
