# The final models of every method as ONNX: one rule for all final folders (all_targets() in
# common.smk lists them), each checked against PyTorch on the test images before it is written.


rule export_onnx:
    input:
        data=DATA_FILE,
        model=f"{RUN}/{{final_dir}}/model.pt",
        architecture=f"{RUN}/{{final_dir}}/architecture.json",
    output:
        onnx=f"{RUN}/{{final_dir}}/model.onnx",
    log:
        f"{RUN}/logs/export_onnx/{{final_dir}}.log",
    wildcard_constraints:
        final_dir=r"(?:baseline/|random/)?final/seed\d+",
    conda:
        "../../envs/deploy.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        script=script_path("export_onnx.py"),
        model_dir=lambda w, input: os.path.dirname(input.model),
    shell:
        "python {params.script} --model-dir {params.model_dir} "
        "--data {input.data} --output {output.onnx} --threads {threads} --memory-mb {resources.mem_mb} > {log} 2>&1"
