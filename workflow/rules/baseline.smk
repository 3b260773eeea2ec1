# The baseline: the same BOHB space, budget and protocol as the NAS rules (hpo.smk), but every
# cell is a plain 3x3 conv block, so no genotype is needed.


rule baseline_bohb:
    input:
        data=DATA_FILE,
    output:
        incumbent="results/baseline/bohb/seed{seed}/incumbent.json",
        trajectory="results/baseline/bohb/seed{seed}/trajectory.csv",
        runhistory="results/baseline/bohb/seed{seed}/runhistory.csv",
    params:
        script=script_path("bohb.py"),
        # SMAC's run folder beside the outputs is not declared, so a rerun continues it.
        settings=lambda w: settings_json("hpo"),
        dataset=config["dataset"]["flag"],
        size=config["dataset"]["size"],
        device=config["device"],
        precision=config["precision"],
    log:
        "results/logs/baseline_bohb/seed{seed}.log",
    benchmark:
        "results/benchmarks/baseline_bohb/seed{seed}.tsv"
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["hpo"]["threads"]
    resources:
        **rule_resources("hpo"),
    shell:
        "python {params.script} --method baseline --data {input.data} "
        "--dataset {params.dataset} --size {params.size} --seed {wildcards.seed} "
        "--settings {params.settings:q} --device {params.device} --precision {params.precision} "
        "--threads {threads} --incumbent {output.incumbent} --trajectory {output.trajectory} "
        "--runhistory {output.runhistory} > {log} 2>&1"


rule baseline_final:
    input:
        data=DATA_FILE,
        incumbent="results/baseline/bohb/seed{seed}/incumbent.json",
    output:
        metrics="results/baseline/final/seed{seed}/metrics.json",
        predictions="results/baseline/final/seed{seed}/predictions.csv",
        model="results/baseline/final/seed{seed}/model.pt",
        architecture="results/baseline/final/seed{seed}/architecture.json",
    params:
        script=script_path("final.py"),
        settings=lambda w: settings_json("final"),
        epochs=config["hpo"]["max_budget"],
        dataset=config["dataset"]["flag"],
        size=config["dataset"]["size"],
        device=config["device"],
        precision=config["precision"],
    log:
        "results/logs/baseline_final/seed{seed}.log",
    benchmark:
        "results/benchmarks/baseline_final/seed{seed}.tsv"
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["final"]["threads"]
    resources:
        **rule_resources("final"),
    shell:
        "python {params.script} --method baseline --incumbent {input.incumbent} --data {input.data} "
        "--dataset {params.dataset} --size {params.size} --seed {wildcards.seed} "
        "--epochs {params.epochs} --settings {params.settings:q} --device {params.device} "
        "--precision {params.precision} --threads {threads} --metrics {output.metrics} "
        "--predictions {output.predictions} --model {output.model} "
        "--architecture {output.architecture} > {log} 2>&1"
