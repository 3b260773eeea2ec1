rule bohb:
    input:
        data=DATA_FILE,
        genotype=f"{RUN}/search/seed{{seed}}/genotype.json",
    output:
        **bohb_files("nas"),
    log:
        job_files("bohb")[0],
    benchmark:
        job_files("bohb")[1]
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["hpo"]["threads"]
    resources:
        **rule_resources("hpo"),
    params:
        script=script_path("bohb.py"),
        method="nas",
        genotype=lambda wildcards, input: f"--genotype {input.genotype}",
        settings=lambda w: settings_json("hpo"),
        runtime=lambda w: settings_json("runtime"),
        epoch=lambda w: settings_json("epoch_size"),
        task=task_argument,
    shell:
        "python {params.script} --method {params.method} {params.genotype} --data {input.data} "
        "--dataset {wildcards.flag} --size {wildcards.size} {params.task} --seed {wildcards.seed} "
        "--settings {params.settings:q} --runtime {params.runtime:q} --epoch-size {params.epoch:q} --threads {threads} "
        "--memory-mb {resources.mem_mb} --incumbent {output.incumbent} --trajectory {output.trajectory} "
        "--runhistory {output.runhistory} --ensemble {output.ensemble} > {log} 2>&1"


rule final:
    input:
        data=DATA_FILE,
        incumbent=bohb_files("nas")["incumbent"],
        ensemble=bohb_files("nas")["ensemble"],
    output:
        **final_files("nas"),
    log:
        job_files("final")[0],
    benchmark:
        job_files("final")[1]
    conda:
        "../../envs/hpo.yaml"
    threads: config["resources"]["final"]["threads"]
    resources:
        **rule_resources("final"),
    params:
        script=script_path("final.py"),
        method="nas",
        settings=lambda w: settings_json("final"),
        runtime=lambda w: settings_json("runtime"),
        epoch=lambda w: settings_json("epoch_size"),
        task=task_argument,
        epochs=config["hpo"]["max_budget"],
    shell:
        "python {params.script} --method {params.method} --incumbent {input.incumbent} --data {input.data} "
        "--dataset {wildcards.flag} --size {wildcards.size} {params.task} --seed {wildcards.seed} "
        "--epochs {params.epochs} --settings {params.settings:q} --runtime {params.runtime:q} --epoch-size {params.epoch:q} "
        "--threads {threads} --memory-mb {resources.mem_mb} --metrics {output.metrics} "
        "--predictions {output.predictions} --model {output.model} "
        "--architecture {output.architecture} --model-card {output.model_card} --ensemble {input.ensemble} "
        "--ensemble-metrics {output.ensemble_metrics} --ensemble-predictions {output.ensemble_predictions} "
        "> {log} 2>&1"
