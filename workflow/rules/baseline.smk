# The baseline: the NAS rules of hpo.smk with every cell a plain 3x3 conv block, so no genotype
# is needed. Inherited, so that the BOHB space, budget, resources and env stay the same by
# construction; only the method, the inputs and the paths differ.


use rule bohb as baseline_bohb with:
    input:
        data=DATA_FILE,
    output:
        incumbent="results/baseline/bohb/seed{seed}/incumbent.json",
        trajectory="results/baseline/bohb/seed{seed}/trajectory.csv",
        runhistory="results/baseline/bohb/seed{seed}/runhistory.csv",
        ensemble="results/baseline/bohb/seed{seed}/ensemble.pt",
    log:
        "results/logs/baseline_bohb/seed{seed}.log",
    benchmark:
        "results/benchmarks/baseline_bohb/seed{seed}.tsv"
    params:
        # SMAC's run folder beside the outputs is not declared, so a rerun continues it.
        method="baseline",
        genotype="",


use rule final as baseline_final with:
    input:
        data=DATA_FILE,
        incumbent="results/baseline/bohb/seed{seed}/incumbent.json",
        ensemble="results/baseline/bohb/seed{seed}/ensemble.pt",
    output:
        metrics="results/baseline/final/seed{seed}/metrics.json",
        predictions="results/baseline/final/seed{seed}/predictions.csv",
        model="results/baseline/final/seed{seed}/model.pt",
        architecture="results/baseline/final/seed{seed}/architecture.json",
        model_card="results/baseline/final/seed{seed}/MODEL_CARD.md",
        ensemble_metrics="results/baseline/final/seed{seed}/ensemble/metrics.json",
        ensemble_predictions="results/baseline/final/seed{seed}/ensemble/predictions.csv",
    log:
        "results/logs/baseline_final/seed{seed}.log",
    benchmark:
        "results/benchmarks/baseline_final/seed{seed}.tsv"
    params:
        method="baseline",
