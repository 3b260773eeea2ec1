# The baseline: the NAS rules of hpo.smk with every cell a plain 3x3 conv block, so no genotype
# is needed. Inherited, so that the BOHB space, budget, resources and env stay the same by
# construction; only the method, the inputs and the paths differ.


use rule bohb as baseline_bohb with:
    input:
        data=DATA_FILE,
    output:
        **bohb_files("baseline"),
    log:
        job_files("baseline_bohb")[0],
    benchmark:
        job_files("baseline_bohb")[1]
    params:
        method="baseline",
        genotype="",


use rule final as baseline_final with:
    input:
        data=DATA_FILE,
        incumbent=bohb_files("baseline")["incumbent"],
        ensemble=bohb_files("baseline")["ensemble"],
    output:
        **final_files("baseline"),
    log:
        job_files("baseline_final")[0],
    benchmark:
        job_files("baseline_final")[1]
    params:
        method="baseline",
