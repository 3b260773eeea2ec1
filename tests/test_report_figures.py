"""The figures on a synthetic result tree (tests/report_fixtures.py writes it in the file
contracts of the design; no training runs here): each script writes real, non-blank PNG and SVG
files, and each figure shows what it promises (every seed, the early stop, the derived cell, both
outputs of every run, the best published row of each kind of training only where they apply, the
number of seeds)."""

import dataclasses
import json

import pytest
from matplotlib.lines import Line2D

from darts_bohb.report.arch_weights import EARLY_STOP_COLOR, plot_arch_weights
from darts_bohb.report.cells import plot_cells
from darts_bohb.report.progress import plot_bohb_progress
from darts_bohb.report.references import (
    FROM_SCRATCH,
    NOT_STATED,
    PRETRAINED,
    UNCHECKED_MARK,
    best_published,
    published_results,
)
from darts_bohb.report.run import read_genotypes, read_scores, read_search_runs, read_tables
from darts_bohb.report.scores import plot_scores
from darts_bohb.report.style import save_figure
from report_fixtures import assert_real_png, assert_real_svg, run_script, write_result_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_result_tree(tmp_path_factory.mktemp("report") / "results", nas_seeds=(1, 2), baseline_seeds=(1,),
                             random_seeds=(2,))


def figure_texts(figure):
    return [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]


@pytest.mark.parametrize("figure", ["bohb_progress", "arch_weights", "scores"])
def test_the_plot_script_writes_each_figure_as_a_real_png_and_svg(tree, tmp_path, figure):
    png, svg = tmp_path / "figure.png", tmp_path / "figure.svg"
    assert run_script("plot.py", [figure, "--run", json.dumps(tree.manifest()), "--output", str(png), str(svg)]) == 0
    assert_real_png(png)
    assert_real_svg(svg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "figure.svg"]  # no temporary left


def test_the_cells_script_writes_the_overview_and_one_picture_per_seed(tree, tmp_path):
    per_seed = [tmp_path / f"cells/seed{seed}.png" for seed in tree.nas_seeds]
    code = run_script("plot.py", ["cells", "--run", json.dumps(tree.manifest()),
                                  "--output", str(tmp_path / "cells.png"), "--per-seed", *map(str, per_seed)])
    assert code == 0
    for path in (tmp_path / "cells.png", *per_seed):
        assert_real_png(path)


def test_bohb_progress_has_a_step_line_per_method_and_seed_and_counts_the_seeds(tree):
    run = tree.run()
    figure = plot_bohb_progress(read_tables(run.files("trajectory")), run)
    for axis in figure.axes:
        lines = {line.get_label(): line for line in axis.get_lines()}
        assert set(lines) == {"NAS+BOHB, seed 1", "NAS+BOHB, seed 2", "random cells+BOHB, seed 2", "baseline, seed 1"}
        assert all(line.get_drawstyle() == "steps-post" for line in lines.values())
        styles = {lines[label].get_linestyle() for label in ("baseline, seed 1", "NAS+BOHB, seed 1",
                                                              "random cells+BOHB, seed 2")}
        assert len(styles) == 3
    assert "NAS+BOHB: n=2 seeds, random cells+BOHB: n=1 seed, baseline: n=1 seed" in figure._suptitle.get_text()
    save_figure(figure, [])


def test_arch_weights_mark_the_early_stop_of_the_seed_that_stopped_only(tree):
    run = tree.run()
    figure = plot_arch_weights(read_tables(run.files("alphas", ["nas"])), read_search_runs(run))
    stop_lines = [line for line in figure.findobj(Line2D)
                  if line.get_color() == EARLY_STOP_COLOR and line.get_linestyle() == "--" and line.axes]
    # Seed 2 stopped after epoch 2: one marker in each of its six node panels, none for seed 1.
    assert len(stop_lines) == 6
    assert all(list(line.get_xdata()) == [2, 2] for line in stop_lines)
    texts = figure_texts(figure)
    assert "seed 1: ran all 4 of 4 planned epochs" in texts
    assert any(text.startswith("seed 2: stopped early after epoch 2 of 4 (2 nodes chose identity") for text in texts)
    assert "(n=2 seeds)" in figure._suptitle.get_text()
    save_figure(figure, [])


def reference_legend(figure):
    return next((legend for legend in figure.legends if legend.get_title().get_text().startswith("best published")),
                None)


def reference_levels(axis):
    """The y of the horizontal lines across a panel: the published rows drawn."""
    return {line.get_ydata()[0] for line in axis.get_lines() if list(line.get_xdata()) == [0, 1]}


def test_scores_show_the_best_published_row_of_each_kind_at_28_px_only(tree):
    run = tree.run()
    metrics = read_scores(run)
    for flag in ("retinamnist", "dermamnist"):
        references = published_results(flag, 28)
        figure = plot_scores(metrics, dataclasses.replace(run, dataset=flag))
        accuracy_axis, auc_axis, f1_axis = figure.axes
        best = {metric: [ref for kind in (FROM_SCRATCH, PRETRAINED, NOT_STATED)
                         if (ref := best_published(references, metric)[kind])] for metric in ("accuracy", "auc")}
        assert reference_levels(accuracy_axis) == {ref.accuracy for ref in best["accuracy"]}
        assert reference_levels(auc_axis) == {ref.auc for ref in best["auc"]}
        assert reference_levels(f1_axis) == set()
        drawn = list(dict.fromkeys(best["accuracy"] + best["auc"]))
        legend = reference_legend(figure)
        assert [text.get_text() for text in legend.get_texts()] == [
            f"{r.label} ({r.training}, {r.resolution}; {r.source}): ACC {r.value('accuracy')}, AUC {r.value('auc')}"
            for r in drawn]
        assert "no published macro F1" in figure_texts(figure)
        # An unchecked row carries the mark, and the legend's title says what it means.
        assert (UNCHECKED_MARK in legend.get_title().get_text()) == (not all(r.checked for r in drawn))
        save_figure(figure, [])
    # RetinaMNIST's: a row per kind and metric, each named once.
    figure = plot_scores(metrics, run)
    assert [text.get_text().split(": ACC")[0] for text in reference_legend(figure).get_texts()] == [
        "ResNet-50 (28) (from scratch, 28 px; MedMNIST v2)",
        "ViT-B/16 † (pretrained, linear probe, 28 px padded to 224; MedMNIST+)",
        "Google AutoML Vision (not stated, 28 px; MedMNIST v2)",
        "VGG16 † (pretrained, end to end, 28 px padded to 224; MedMNIST+)"]
    save_figure(figure, [])

    for flag, size in (("retinamnist", 64), ("mydata", 28)):
        without = plot_scores(metrics, dataclasses.replace(run, dataset=flag, size=size))
        assert reference_legend(without) is None
        assert all(reference_levels(axis) == set() for axis in without.axes)
        save_figure(without, [])


def test_scores_show_both_outputs_of_every_seed(tree):
    run = tree.run()
    figure = plot_scores(read_scores(run), run)
    accuracy_axis = figure.axes[0]
    points = {}
    for collection in accuracy_axis.collections:
        marker = "o" if collection.get_paths()[0].vertices.shape[0] > 6 else "D"  # a circle has many vertices
        points.setdefault(marker, []).extend(collection.get_offsets()[:, 1].tolist())
    assert sorted(points["o"]) == pytest.approx(sorted(tree.metrics[r]["accuracy"] for r in tree.runs()))
    assert sorted(points["D"]) == pytest.approx(sorted(tree.ensembles[r]["accuracy"] for r in tree.runs()))
    assert figure._suptitle.get_text() == (
        "Test scores per seed: the incumbent (circles, plain boxes) and the per-seed ensemble (diamonds, hatched "
        "boxes)\nNAS+BOHB: n=2 seeds, random cells+BOHB: n=1 seed, baseline: n=1 seed")
    save_figure(figure, [])


def test_scores_label_every_seed_and_the_seed_count_per_method(tree):
    run = dataclasses.replace(tree.run(), size=64)  # no references
    figure = plot_scores(read_scores(run), run)
    for axis in figure.axes:
        ticks = [label.get_text() for label in axis.get_xticklabels()]
        assert ticks == ["NAS+BOHB\n(n=2 seeds)", "random cells+BOHB\n(n=1 seed)", "baseline\n(n=1 seed)"]
        seed_labels = sorted(text.get_text() for text in axis.texts if text.get_text().startswith("s"))
        assert seed_labels == ["s1"] * 4 + ["s2"] * 4  # each seed's two outputs
        # Seed 2 joins NAS+BOHB and random, once per output; no seed is shared by random and the baseline.
        pair_lines = [line for line in axis.get_lines() if line.get_color() == "grey"]
        assert len(pair_lines) == 2
    save_figure(figure, [])


def test_cells_show_each_seeds_derived_operation_per_node(tree):
    genotypes = read_genotypes(tree.run())
    figure = plot_cells(genotypes)
    visible = [axis for axis in figure.axes if axis.get_visible()]
    assert len(visible) == 2
    for axis, seed in zip(visible, sorted(genotypes)):
        texts = [text.get_text() for text in axis.texts]
        for node, operation in genotypes[seed].derived_design().items():
            kernel = next(n.kernel_size for n in genotypes[seed].topology.nodes if n.name == node)
            assert any(text.startswith(f"{node}  {kernel}×{kernel}\n{operation}\n") for text in texts), (seed, node)
        assert {"input", "+"} <= set(texts)
        assert axis.get_title().startswith(f"seed {seed}\n")
    assert "(n=2 seeds;" in figure._suptitle.get_text()
    save_figure(figure, [])


def test_figures_without_baseline_seeds_show_the_nas_runs_alone(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=())
    run = tree.run()
    progress = plot_bohb_progress(read_tables(run.files("trajectory")), run)
    assert [line.get_label() for line in progress.axes[0].get_lines()] == ["NAS+BOHB, seed 1", "NAS+BOHB, seed 2"]
    assert "baseline: n=0 seeds" in progress._suptitle.get_text()
    scores = plot_scores(read_scores(run), run)
    assert [label.get_text() for label in scores.axes[0].get_xticklabels()] == ["NAS+BOHB\n(n=2 seeds)"]
    png = tmp_path / "scores.png"
    save_figure(scores, [png])
    save_figure(progress, [])
    assert_real_png(png)


def test_arch_weights_scale_to_small_probability_changes_of_a_short_search(tree):
    run = tree.run()
    alphas = read_tables(run.files("alphas", ["nas"]))
    # As after a few real epochs: every probability within a thousandth of uniform.
    alphas["probability"] = 0.2 + (alphas["probability"] - 0.2) / 500
    figure = plot_arch_weights(alphas, read_search_runs(run))
    low, high = figure.axes[0].get_ylim()
    assert 0.19 < low < high < 0.21
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "skip threshold (identity)" not in legend  # 0.3 lies outside every row's range
    assert "early stop" in legend
    save_figure(figure, [])
