rule darts_search:
    input:
        data=DATA_FILE,
    output:
        alphas="results/search/seed{seed}/alphas.csv",
        epochs="results/search/seed{seed}/epochs.csv",
        summary="results/search/seed{seed}/search.json",
    log:
        "results/logs/darts_search/seed{seed}.log",
    benchmark:
        "results/benchmarks/darts_search/seed{seed}.tsv"
    conda:
        "../../envs/search.yaml"
    threads: config["resources"]["search"]["threads"]
    resources:
        **rule_resources("search"),
    params:
        script=script_path("darts_search.py"),
        settings=lambda w: settings_json("search"),
        # Resumable state lives beside the outputs but is not declared: Snakemake deletes
        # declared outputs before a rerun, and the state must survive a killed job.
        state_dir=lambda w: f"results/search/seed{w.seed}/state",
        dataset=dataset_argument(),
        size=config["dataset"]["size"],
        runtime=lambda w: settings_json("runtime"),
    shell:
        "python {params.script} --data {input.data} --seed {wildcards.seed} "
        "--dataset {params.dataset} --size {params.size} --settings {params.settings:q} "
        "--runtime {params.runtime:q} --threads {threads} --memory-mb {resources.mem_mb} --state-dir {params.state_dir} "
        "--alphas {output.alphas} --epochs {output.epochs} --summary {output.summary} > {log} 2>&1"


# Seconds of pandas: on a cluster it runs on the submit host rather than wait for a slot.
localrules:
    export_genotype,


rule export_genotype:
    input:
        alphas="results/search/seed{seed}/alphas.csv",
        summary="results/search/seed{seed}/search.json",
    output:
        "results/search/seed{seed}/genotype.json",
    log:
        "results/logs/export_genotype/seed{seed}.log",
    conda:
        "../../envs/search.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        script=script_path("export_genotype.py"),
    shell:
        "python {params.script} --alphas {input.alphas} --summary {input.summary} " "--output {output} > {log} 2>&1"
