# Figures and the summary across seeds, from the run's manifest (report_manifest.smk). Each rule still
# declares every file it reads as an input, so asking for one figure reruns only what that figure reads.
# All are quick and local: a cluster job would cost more.


include: "report_manifest.smk"


report: "../report/workflow.rst"


# Per figure: the files it reads, the methods whose seeds it draws, and its stage in the HTML report.
FIGURE_RULES = {
    "bohb_progress": (["trajectory"], tuple(METHOD_SEEDS), "2. BOHB"),
    "arch_weights": (["alphas", "search"], ["nas"], "1. DARTS search"),
    "scores": (["metrics", "ensemble_metrics"], tuple(METHOD_SEEDS), "3. Test scores"),
}

for figure, (kinds, methods, stage) in FIGURE_RULES.items():

    rule:
        name:
            f"plot_{figure}"
        input:
            run_inputs(*kinds, methods=methods),
        output:
            png=report_file(f"{figure}.png", figure, stage),
            svg=f"{REPORTS}/{figure}.svg",
        log:
            f"{RUN}/logs/plot_{figure}.log",
        localrule: True
        conda:
            "../../envs/report.yaml"
        resources:
            **REPORT_RESOURCES,
        params:
            script=script_path("plot.py"),
            figure=figure,
            run=run_manifest(methods),
        shell:
            "python {params.script} {params.figure} --run {params.run:q} --output {output} > {log} 2>&1"


rule plot_cells:
    input:
        run_inputs("genotype", methods=["nas"]),
    output:
        overview=report_file("cells.png", "cells", "1. DARTS search"),
        # One picture per seed too, each with its caption in the HTML report.
        per_seed=[report_file(f"cells/seed{seed}.png", "cell", "1. DARTS search") for seed in METHOD_SEEDS["nas"]],
    log:
        f"{RUN}/logs/plot_cells.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    resources:
        **REPORT_RESOURCES,
    params:
        script=script_path("plot.py"),
        run=run_manifest(["nas"]),
    shell:
        "python {params.script} cells --run {params.run:q} --output {output.overview} --per-seed {output.per_seed} "
        "> {log} 2>&1"


rule report:
    input:
        # Linked from summary.md.
        figures=[f"{REPORTS}/{name}.png" for name in [*FIGURE_RULES, "cells"]],
        # Per seed both outputs (the incumbent and its ensemble of fold models), its BOHB trials, the
        # seconds of its jobs and its searched cell.
        outputs=run_inputs("metrics", "predictions", "ensemble_metrics", "ensemble_predictions"),
        jobs=run_inputs("runhistory", "benchmark_bohb", "benchmark_final"),
        searches=run_inputs("genotype", "benchmark_search", methods=["nas"]),
    output:
        csv=report_file("summary.csv", "summary_csv", "4. Summary"),
        ensemble=report_file("ensemble.csv", "ensemble_csv", "4. Summary"),
        comparisons=report_file("comparisons.csv", "comparisons_csv", "4. Summary"),
        search=report_file("search.csv", "search_csv", "1. DARTS search"),
        markdown=report_file("summary.md", "summary_md", "4. Summary"),
    log:
        f"{RUN}/logs/report.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    resources:
        # The bootstrap intervals of comparisons.csv: seconds per seed pair and metric.
        **REPORT_RESOURCES | {"runtime": 30},
    params:
        script=script_path("report.py"),
        run=run_manifest(),
    shell:
        "python {params.script} --run {params.run:q} --figures {input.figures} --markdown {output.markdown} "
        "--csv {output.csv} --ensemble-csv {output.ensemble} --comparisons-csv {output.comparisons} "
        "--search-csv {output.search} > {log} 2>&1"


# Across data sets, from each data set's report alone: nothing is scored again.
rule leaderboard:
    input:
        expand("reports/{dataset}/{name}.csv", dataset=DATASETS, name=["summary", "comparisons"]),
    output:
        csv=report(f"{LEADERBOARD}.csv", caption="../report/leaderboard_csv.rst", category="all data sets"),
        markdown=report(f"{LEADERBOARD}.md", caption="../report/leaderboard_md.rst", category="all data sets"),
        png=report(f"{LEADERBOARD}.png", caption="../report/leaderboard.rst", category="all data sets"),
        svg=f"{LEADERBOARD}.svg",
    log:
        "results/logs/leaderboard.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    resources:
        **REPORT_RESOURCES,
    params:
        script=script_path("leaderboard.py"),
        run=leaderboard_manifest(),
    shell:
        "python {params.script} --run {params.run:q} --output {output} > {log} 2>&1"
