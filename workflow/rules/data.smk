# The download needs the internet, which cluster nodes often lack, and little else: it runs on
# the submit host, also under --profile profiles/slurm.
localrules:
    download_dataset,


rule download_dataset:
    input:
        local_dataset_source,
    output:
        "results/data/{dataset}_{size}.npz",
    log:
        "results/logs/download_dataset/{dataset}_{size}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        script=script_path("download_dataset.py"),
        # With the task of a data set of one's own appended (see dataset_argument).
        source=lambda w, input: (f"--source {shlex.quote(input[0])}" if input else "") + task_argument(),
    shell:
        "python {params.script} --flag {wildcards.dataset} --size {wildcards.size} "
        "{params.source} --output {output} > {log} 2>&1"
