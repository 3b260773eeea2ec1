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
        incumbent="results/random/bohb/seed{seed}/incumbent.json",
        trajectory="results/random/bohb/seed{seed}/trajectory.csv",
        runhistory="results/random/bohb/seed{seed}/runhistory.csv",
        ensemble="results/random/bohb/seed{seed}/ensemble.pt",
    log:
        "results/logs/random_bohb/seed{seed}.log",
    benchmark:
        "results/benchmarks/random_bohb/seed{seed}.tsv"
    params:
        # SMAC's run folder beside the outputs is not declared, so a rerun continues it.
        method="random",
        # Where the NAS rule passes its genotype: the cell's wiring, the same as the search's.
        # Zero only where the search has it, as only then can a NAS design use it.
        genotype=lambda w: "--kernel-sizes "
        + " ".join(map(str, config["search"]["kernel_sizes"]))
        + ("" if config["search"]["include_zero"] else " --without-zero"),


use rule final as random_final with:
    input:
        data=DATA_FILE,
        incumbent="results/random/bohb/seed{seed}/incumbent.json",
        ensemble="results/random/bohb/seed{seed}/ensemble.pt",
    output:
        metrics="results/random/final/seed{seed}/metrics.json",
        predictions="results/random/final/seed{seed}/predictions.csv",
        model="results/random/final/seed{seed}/model.pt",
        architecture="results/random/final/seed{seed}/architecture.json",
        model_card="results/random/final/seed{seed}/MODEL_CARD.md",
        ensemble_metrics="results/random/final/seed{seed}/ensemble/metrics.json",
        ensemble_predictions="results/random/final/seed{seed}/ensemble/predictions.csv",
    log:
        "results/logs/random_final/seed{seed}.log",
    benchmark:
        "results/benchmarks/random_final/seed{seed}.tsv"
    params:
        method="random",
