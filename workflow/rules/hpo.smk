rule bohb:
    input:
        data=DATA_FILE,
        genotype="results/search/seed{seed}/genotype.json",
    output:
        incumbent="results/bohb/seed{seed}/incumbent.json",
        trajectory="results/bohb/seed{seed}/trajectory.csv",
        runhistory="results/bohb/seed{seed}/runhistory.csv",
        ensemble="results/bohb/seed{seed}/ensemble.pt",
    log:
        "results/logs/bohb/seed{seed}.log",
    benchmark:
        "results/benchmarks/bohb/seed{seed}.tsv"
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["hpo"]["threads"]
    resources:
        **rule_resources("hpo"),
    params:
        script=script_path("bohb.py"),
        # SMAC's run folder (results/bohb/seed{seed}/smac/) is deliberately not an output:
        # Snakemake would delete it before a rerun, and a rerun should continue it.
        method="nas",
        genotype=lambda wildcards, input: f"--genotype {input.genotype}",
        settings=lambda w: settings_json("hpo"),
        dataset=dataset_argument(),
        size=config["dataset"]["size"],
        runtime=lambda w: settings_json("runtime"),
    shell:
        "python {params.script} --method {params.method} {params.genotype} --data {input.data} "
        "--dataset {params.dataset} --size {params.size} --seed {wildcards.seed} "
        "--settings {params.settings:q} --runtime {params.runtime:q} "
        "--threads {threads} --memory-mb {resources.mem_mb} --incumbent {output.incumbent} --trajectory {output.trajectory} "
        "--runhistory {output.runhistory} --ensemble {output.ensemble} > {log} 2>&1"


rule final:
    input:
        data=DATA_FILE,
        incumbent="results/bohb/seed{seed}/incumbent.json",
        ensemble="results/bohb/seed{seed}/ensemble.pt",
    output:
        metrics="results/final/seed{seed}/metrics.json",
        predictions="results/final/seed{seed}/predictions.csv",
        model="results/final/seed{seed}/model.pt",
        architecture="results/final/seed{seed}/architecture.json",
        model_card="results/final/seed{seed}/MODEL_CARD.md",
        ensemble_metrics="results/final/seed{seed}/ensemble/metrics.json",
        ensemble_predictions="results/final/seed{seed}/ensemble/predictions.csv",
    log:
        "results/logs/final/seed{seed}.log",
    benchmark:
        "results/benchmarks/final/seed{seed}.tsv"
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["final"]["threads"]
    resources:
        **rule_resources("final"),
    params:
        script=script_path("final.py"),
        method="nas",
        settings=lambda w: settings_json("final"),
        epochs=config["hpo"]["max_budget"],
        dataset=dataset_argument(),
        size=config["dataset"]["size"],
        runtime=lambda w: settings_json("runtime"),
    shell:
        "python {params.script} --method {params.method} --incumbent {input.incumbent} --data {input.data} "
        "--dataset {params.dataset} --size {params.size} --seed {wildcards.seed} "
        "--epochs {params.epochs} --settings {params.settings:q} --runtime {params.runtime:q} "
        "--threads {threads} --memory-mb {resources.mem_mb} --metrics {output.metrics} "
        "--predictions {output.predictions} --model {output.model} "
        "--architecture {output.architecture} --model-card {output.model_card} --ensemble {input.ensemble} "
        "--ensemble-metrics {output.ensemble_metrics} --ensemble-predictions {output.ensemble_predictions} "
        "> {log} 2>&1"
