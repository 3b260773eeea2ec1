rule darts_search:
    input:
        data=DATA_FILE,
    output:
        alphas=f"{RUN}/search/seed{{seed}}/alphas.csv",
        epochs=f"{RUN}/search/seed{{seed}}/epochs.csv",
        summary=f"{RUN}/search/seed{{seed}}/search.json",
    log:
        job_files("darts_search")[0],
    benchmark:
        job_files("darts_search")[1]
    conda:
        "../../envs/search.yaml"
    threads: config["resources"]["search"]["threads"]
    resources:
        **rule_resources("search"),
    params:
        script=script_path("darts_search.py"),
        settings=lambda w: settings_json("search"),
        runtime=lambda w: settings_json("runtime"),
        epoch=lambda w: settings_json("epoch_size"),
        task=task_argument,
        # Resumable state lives beside the outputs but is not declared: Snakemake deletes
        # declared outputs before a rerun, and the state must survive a killed job.
        state_dir=lambda w: f"results/{w.flag}_{w.size}/search/seed{w.seed}/state",
    shell:
        "python {params.script} --data {input.data} --seed {wildcards.seed} "
        "--dataset {wildcards.flag} --size {wildcards.size} {params.task} --settings {params.settings:q} "
        "--runtime {params.runtime:q} --epoch-size {params.epoch:q} --threads {threads} --memory-mb {resources.mem_mb} "
        "--state-dir {params.state_dir} --alphas {output.alphas} --epochs {output.epochs} "
        "--summary {output.summary} > {log} 2>&1"


# Seconds of pandas: on a cluster it runs on the submit host rather than wait for a slot.
localrules:
    export_genotype,


rule export_genotype:
    input:
        alphas=f"{RUN}/search/seed{{seed}}/alphas.csv",
        summary=f"{RUN}/search/seed{{seed}}/search.json",
    output:
        f"{RUN}/search/seed{{seed}}/genotype.json",
    log:
        job_files("export_genotype")[0],
    conda:
        "../../envs/search.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        script=script_path("export_genotype.py"),
    shell:
        "python {params.script} --alphas {input.alphas} --summary {input.summary} --output {output} > {log} 2>&1"
