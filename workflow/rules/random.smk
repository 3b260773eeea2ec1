# The random-cell control: the NAS rules of hpo.smk with the K cell designs drawn uniformly from
# the operations the NAS designs may use (darts_bohb.random_cells) instead of from the searched
# α, so the comparison with NAS isolates what the search contributes. Inherited, as the baseline
# is, so the BOHB space, budget, resources and final training stay the same by construction;
# only the method, the inputs and the paths differ. It needs no search: the cell's wiring comes
# from search.kernel_sizes.


use rule bohb as random_bohb with:
    input:
        data=DATA_FILE,
    output:
        **bohb_files("random"),
    log:
        job_files("random_bohb")[0],
    benchmark:
        job_files("random_bohb")[1]
    params:
        method="random",
        # Where the NAS rule passes its genotype: the cell's wiring, the same as the search's.
        # Zero only where the search has it, as only then can a NAS design use it.
        genotype=lambda w: "--kernel-sizes "
        + " ".join(map(str, config["search"]["kernel_sizes"]))
        + ("" if config["search"]["include_zero"] else " --without-zero"),


use rule final as random_final with:
    input:
        data=DATA_FILE,
        incumbent=bohb_files("random")["incumbent"],
        ensemble=bohb_files("random")["ensemble"],
    output:
        **final_files("random"),
    log:
        job_files("random_final")[0],
    benchmark:
        job_files("random_final")[1]
    params:
        method="random",
