# The download needs the internet, which cluster nodes often lack, and little else: it runs on
# the submit host, also under --profile profiles/slurm.
localrules:
    download_dataset,


rule download_dataset:
    input:
        local_dataset_source,
    output:
        DATA_FILE,
    log:
        f"{RUN}/logs/download_dataset.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        script=script_path("download_dataset.py"),
        source=lambda w, input: f"--source {shlex.quote(input[0])}" if input else "",
        task=task_argument,
    shell:
        "python {params.script} --flag {wildcards.flag} --size {wildcards.size} {params.source} {params.task} "
        "--output {output} > {log} 2>&1"
