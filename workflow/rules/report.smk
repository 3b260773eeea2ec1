# Figures and the summary across seeds. Every input is a file an earlier rule wrote, declared
# per seed with expand(), so asking for one figure reruns only what that figure reads. All of
# them are quick and local: a cluster job would cost more than the plotting.

BASELINE_SEEDS = config["baseline"]["seeds"]


report: "../report/workflow.rst"


localrules:
    plot_bohb_progress,
    plot_arch_weights,
    plot_cells,
    plot_scores,
    report,


rule plot_bohb_progress:
    input:
        nas=expand("results/bohb/seed{seed}/trajectory.csv", seed=SEEDS),
        random=expand("results/random/bohb/seed{seed}/trajectory.csv", seed=RANDOM_SEEDS),
        baseline=expand("results/baseline/bohb/seed{seed}/trajectory.csv", seed=BASELINE_SEEDS),
    output:
        png=report(
            "reports/bohb_progress.png",
            caption="../report/bohb_progress.rst",
            category="2. BOHB",
            subcategory="all seeds",
        ),
        svg="reports/bohb_progress.svg",
    log:
        "results/logs/plot_bohb_progress/all_seeds.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("plot_bohb_progress.py"),
        seeds=SEEDS,
        random_seeds=RANDOM_SEEDS,
        baseline_seeds=BASELINE_SEEDS,
        metric=config["hpo"]["metric"],
    shell:
        "python {params.script} --seeds {params.seeds} --trajectories {input.nas} "
        "--random-seeds {params.random_seeds} --random-trajectories {input.random} "
        "--baseline-seeds {params.baseline_seeds} --baseline-trajectories {input.baseline} "
        "--metric {params.metric} --output {output.png} {output.svg} > {log} 2>&1"


rule plot_arch_weights:
    input:
        alphas=expand("results/search/seed{seed}/alphas.csv", seed=SEEDS),
        summaries=expand("results/search/seed{seed}/search.json", seed=SEEDS),
    output:
        png=report(
            "reports/arch_weights.png",
            caption="../report/arch_weights.rst",
            category="1. DARTS search",
            subcategory="all seeds",
        ),
        svg="reports/arch_weights.svg",
    log:
        "results/logs/plot_arch_weights/all_seeds.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("plot_arch_weights.py"),
        seeds=SEEDS,
    shell:
        "python {params.script} --seeds {params.seeds} --alphas {input.alphas} "
        "--searches {input.summaries} --output {output.png} {output.svg} > {log} 2>&1"


rule plot_cells:
    input:
        expand("results/search/seed{seed}/genotype.json", seed=SEEDS),
    output:
        overview=report(
            "reports/cells.png",
            caption="../report/cells.rst",
            category="1. DARTS search",
            subcategory="all seeds",
        ),
        # One picture per seed too, so that the HTML report can group the search by seed.
        per_seed=[
            report(
                f"reports/cells/seed{seed}.png",
                caption="../report/cell.rst",
                category="1. DARTS search",
                subcategory=f"seed {seed}",
            )
            for seed in SEEDS
        ],
    log:
        "results/logs/plot_cells/all_seeds.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("plot_cells.py"),
        seeds=SEEDS,
    shell:
        "python {params.script} --seeds {params.seeds} --genotypes {input} "
        "--output {output.overview} --per-seed {output.per_seed} > {log} 2>&1"


rule plot_scores:
    input:
        nas=expand("results/final/seed{seed}/metrics.json", seed=SEEDS),
        random=expand("results/random/final/seed{seed}/metrics.json", seed=RANDOM_SEEDS),
        baseline=expand("results/baseline/final/seed{seed}/metrics.json", seed=BASELINE_SEEDS),
    output:
        png=report(
            "reports/scores.png",
            caption="../report/scores.rst",
            category="3. Test scores",
            subcategory="all seeds",
        ),
        svg="reports/scores.svg",
    log:
        "results/logs/plot_scores/all_seeds.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("plot_scores.py"),
        seeds=SEEDS,
        random_seeds=RANDOM_SEEDS,
        baseline_seeds=BASELINE_SEEDS,
        dataset=config["dataset"]["flag"],
        size=config["dataset"]["size"],
    shell:
        "python {params.script} --seeds {params.seeds} --metrics {input.nas} "
        "--random-seeds {params.random_seeds} --random-metrics {input.random} "
        "--baseline-seeds {params.baseline_seeds} --baseline-metrics {input.baseline} "
        "--dataset {params.dataset} --size {params.size} "
        "--output {output.png} {output.svg} > {log} 2>&1"


rule report:
    input:
        bohb_progress="reports/bohb_progress.png",
        arch_weights="reports/arch_weights.png",
        cells="reports/cells.png",
        scores="reports/scores.png",
        metrics=expand("results/final/seed{seed}/metrics.json", seed=SEEDS),
        incumbents=expand("results/bohb/seed{seed}/incumbent.json", seed=SEEDS),
        trials=expand("results/bohb/seed{seed}/runhistory.csv", seed=SEEDS),
        searches=expand("results/search/seed{seed}/search.json", seed=SEEDS),
        genotypes=expand("results/search/seed{seed}/genotype.json", seed=SEEDS),
        random_metrics=expand("results/random/final/seed{seed}/metrics.json", seed=RANDOM_SEEDS),
        random_incumbents=expand("results/random/bohb/seed{seed}/incumbent.json", seed=RANDOM_SEEDS),
        random_trials=expand("results/random/bohb/seed{seed}/runhistory.csv", seed=RANDOM_SEEDS),
        baseline_metrics=expand("results/baseline/final/seed{seed}/metrics.json", seed=BASELINE_SEEDS),
        baseline_incumbents=expand("results/baseline/bohb/seed{seed}/incumbent.json", seed=BASELINE_SEEDS),
        baseline_trials=expand("results/baseline/bohb/seed{seed}/runhistory.csv", seed=BASELINE_SEEDS),
        # Test probabilities of every seed, averaged into each method's ensemble row.
        predictions=expand("results/final/seed{seed}/predictions.csv", seed=SEEDS),
        random_predictions=expand("results/random/final/seed{seed}/predictions.csv", seed=RANDOM_SEEDS),
        baseline_predictions=expand("results/baseline/final/seed{seed}/predictions.csv", seed=BASELINE_SEEDS),
        # Each seed's second output, beside the incumbent: its ensemble of fold models.
        ensemble_metrics=expand("results/final/seed{seed}/ensemble/metrics.json", seed=SEEDS),
        random_ensemble_metrics=expand("results/random/final/seed{seed}/ensemble/metrics.json", seed=RANDOM_SEEDS),
        baseline_ensemble_metrics=expand("results/baseline/final/seed{seed}/ensemble/metrics.json", seed=BASELINE_SEEDS),
        ensemble_predictions=expand("results/final/seed{seed}/ensemble/predictions.csv", seed=SEEDS),
        random_ensemble_predictions=expand(
            "results/random/final/seed{seed}/ensemble/predictions.csv", seed=RANDOM_SEEDS
        ),
        baseline_ensemble_predictions=expand(
            "results/baseline/final/seed{seed}/ensemble/predictions.csv", seed=BASELINE_SEEDS
        ),
        search_benchmarks=expand("results/benchmarks/darts_search/seed{seed}.tsv", seed=SEEDS),
        bohb_benchmarks=expand("results/benchmarks/bohb/seed{seed}.tsv", seed=SEEDS),
        final_benchmarks=expand("results/benchmarks/final/seed{seed}.tsv", seed=SEEDS),
        random_bohb_benchmarks=expand("results/benchmarks/random_bohb/seed{seed}.tsv", seed=RANDOM_SEEDS),
        random_final_benchmarks=expand("results/benchmarks/random_final/seed{seed}.tsv", seed=RANDOM_SEEDS),
        baseline_bohb_benchmarks=expand("results/benchmarks/baseline_bohb/seed{seed}.tsv", seed=BASELINE_SEEDS),
        baseline_final_benchmarks=expand("results/benchmarks/baseline_final/seed{seed}.tsv", seed=BASELINE_SEEDS),
    output:
        csv=report(
            "reports/summary.csv",
            caption="../report/summary_csv.rst",
            category="4. Summary",
            subcategory="all seeds",
        ),
        ensemble=report(
            "reports/ensemble.csv",
            caption="../report/ensemble_csv.rst",
            category="4. Summary",
            subcategory="all seeds",
        ),
        comparisons=report(
            "reports/comparisons.csv",
            caption="../report/comparisons_csv.rst",
            category="4. Summary",
            subcategory="all seeds",
        ),
        search=report(
            "reports/search.csv",
            caption="../report/search_csv.rst",
            category="1. DARTS search",
            subcategory="all seeds",
        ),
        markdown=report(
            "reports/summary.md",
            caption="../report/summary_md.rst",
            category="4. Summary",
            subcategory="all seeds",
        ),
    log:
        "results/logs/report/all_seeds.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        # The bootstrap intervals of comparisons.csv: seconds per seed pair and metric.
        runtime=30,
    params:
        script=script_path("report.py"),
        seeds=SEEDS,
        random_seeds=RANDOM_SEEDS,
        baseline_seeds=BASELINE_SEEDS,
        dataset=dataset_argument(),
        size=config["dataset"]["size"],
    shell:
        "python {params.script} --seeds {params.seeds} --random-seeds {params.random_seeds} "
        "--baseline-seeds {params.baseline_seeds} "
        "--metrics {input.metrics} --random-metrics {input.random_metrics} "
        "--baseline-metrics {input.baseline_metrics} "
        "--incumbents {input.incumbents} --random-incumbents {input.random_incumbents} "
        "--baseline-incumbents {input.baseline_incumbents} "
        "--runhistories {input.trials} --random-runhistories {input.random_trials} "
        "--baseline-runhistories {input.baseline_trials} "
        "--predictions {input.predictions} --random-predictions {input.random_predictions} "
        "--baseline-predictions {input.baseline_predictions} "
        "--ensemble-metrics {input.ensemble_metrics} --random-ensemble-metrics {input.random_ensemble_metrics} "
        "--baseline-ensemble-metrics {input.baseline_ensemble_metrics} "
        "--ensemble-predictions {input.ensemble_predictions} "
        "--random-ensemble-predictions {input.random_ensemble_predictions} "
        "--baseline-ensemble-predictions {input.baseline_ensemble_predictions} "
        "--searches {input.searches} --genotypes {input.genotypes} "
        "--darts-search-benchmarks {input.search_benchmarks} --bohb-benchmarks {input.bohb_benchmarks} "
        "--final-benchmarks {input.final_benchmarks} "
        "--random-bohb-benchmarks {input.random_bohb_benchmarks} "
        "--random-final-benchmarks {input.random_final_benchmarks} "
        "--baseline-bohb-benchmarks {input.baseline_bohb_benchmarks} "
        "--baseline-final-benchmarks {input.baseline_final_benchmarks} "
        "--dataset {params.dataset} --size {params.size} "
        "--bohb-progress {input.bohb_progress} --arch-weights {input.arch_weights} "
        "--cells {input.cells} --scores {input.scores} "
        "--csv {output.csv} --ensemble-csv {output.ensemble} --comparisons-csv {output.comparisons} "
        "--search-csv {output.search} --markdown {output.markdown} > {log} 2>&1"
