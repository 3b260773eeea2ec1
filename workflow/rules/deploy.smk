# The final models of every method as ONNX: one rule for all final folders (final_dirs() in
# common.smk lists them), each checked against PyTorch on the test images before it is written.


rule export_onnx:
    input:
        data=DATA_FILE,
        model="results/{final_dir}/model.pt",
        architecture="results/{final_dir}/architecture.json",
    output:
        onnx="results/{final_dir}/model.onnx",
    log:
        "results/logs/export_onnx/{final_dir}.log",
    wildcard_constraints:
        final_dir=FINAL_DIR_PATTERN,
    conda:
        "../../envs/deploy.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script_path("export_onnx.py"),
    shell:
        "python {params.script} --model-dir results/{wildcards.final_dir} --data {input.data} "
        "--output {output.onnx} --threads {threads} --memory-mb {resources.mem_mb} > {log} 2>&1"
