"""The leaderboard across data sets (darts_bohb/report/leaderboard.py, scripts/leaderboard.py): each row
holds the mean and spread of its seeds' test scores and how many seeds they are of, the best published
row of each kind of training by name or a word that there is none, and on NAS+BOHB's rows the verdict
of NAS − random as comparisons.csv's interval reads it. Runs in-process on synthetic reports."""

import json
import math

import pandas as pd
import pytest

from darts_bohb.report.comparisons import Verdict
from darts_bohb.report.leaderboard import leaderboard_rows, render_leaderboard
from darts_bohb.report.references import UNCHECKED_NOTE
from report_fixtures import assert_real_png, assert_real_svg, run_script, write_result_tree

# (method, seed, output, test ACC, test AUC): NAS has three seeds, one AUC undefined; random one seed.
SCORES = [
    ("nas", 1, "incumbent", 0.50, 0.70), ("nas", 2, "incumbent", 0.52, math.nan), ("nas", 3, "incumbent", 0.57, 0.80),
    ("random", 1, "incumbent", 0.45, 0.66), ("baseline", 1, "incumbent", 0.40, 0.60),
    ("baseline", 2, "incumbent", 0.44, 0.64), ("nas", 1, "seed_ensemble", 0.55, 0.75),
    ("nas", 2, "seed_ensemble", 0.56, 0.76), ("nas", 3, "seed_ensemble", 0.60, 0.77),
    ("random", 1, "seed_ensemble", 0.47, 0.69), ("baseline", 1, "seed_ensemble", 0.42, 0.62),
    ("baseline", 2, "seed_ensemble", 0.43, 0.63),
]
SUMMARY = pd.DataFrame(SCORES, columns=["method", "seed", "output", "test_accuracy", "test_auc"])
RETINA = {"flag": "retinamnist", "size": 28, "task": None}
BETTER = Verdict("nas", "random", "incumbent", "accuracy", "better", 1, "1", 0.05, 0.01, 0.09, 0.04)
NOT_COMPARED = Verdict("nas", "random", "seed_ensemble", "accuracy", "not compared")
VERDICTS = [BETTER, NOT_COMPARED]


def row(board, method, output):
    return board[(board["method"] == method) & (board["output"] == output)].iloc[0]


def test_each_row_holds_the_mean_and_spread_of_its_seeds_and_how_many():
    board = leaderboard_rows(RETINA, SUMMARY, VERDICTS)
    assert list(board.columns[:5]) == ["dataset", "size", "method", "output", "n"]
    assert list(zip(board["method"], board["output"])) == [
        (m, o) for o in ("incumbent", "seed_ensemble") for m in ("nas", "random", "baseline")]
    nas = row(board, "nas", "incumbent")
    assert (nas["dataset"], nas["size"], nas["n"], nas["n_auc"]) == ("retinamnist", 28, 3, 2)
    assert nas["test_accuracy"] == pytest.approx((0.50 + 0.52 + 0.57) / 3)
    assert nas["test_accuracy_std"] == pytest.approx(pd.Series([0.50, 0.52, 0.57]).std())  # n − 1
    assert nas["test_auc"] == pytest.approx(0.75)  # the undefined AUC is left out, and n_auc says so
    random = row(board, "random", "incumbent")
    assert random["n"] == 1 and random["test_accuracy"] == 0.45 and math.isnan(random["test_accuracy_std"])


@pytest.mark.parametrize("entry, scratch, pretrained", [
    # RetinaMNIST at 28 px: both kinds, each one row of its source, named with training, resolution and source.
    (RETINA, ("ResNet-50 (28) (from scratch, 28 px; MedMNIST v2)", 0.528),
     ("ViT-B/16 † (pretrained, linear probe, 28 px padded to 224; MedMNIST+)", 0.5425)),
    # BreastMNIST: from scratch only.
    ({"flag": "breastmnist", "size": 28}, ("ResNet-18 (28) (from scratch, 28 px; MedMNIST v2)", 0.863),
     ("none in the reference table for breastmnist at 28 px", None)),
    # No published result at another size, nor for a data set of one's own, whatever its name.
    ({"flag": "retinamnist", "size": 64}, ("none in the reference table for retinamnist at 64 px", None),
     ("none in the reference table for retinamnist at 64 px", None)),
    ({"flag": "retinamnist", "size": 28, "task": "multi-class"}, ("none: a data set of one's own", None),
     ("none: a data set of one's own", None)),
])
def test_the_best_published_rows_are_named_or_said_to_be_missing(entry, scratch, pretrained):
    board = leaderboard_rows(entry, SUMMARY, VERDICTS)
    for kind, (name, value) in (("scratch", scratch), ("pretrained", pretrained)):
        assert set(board[f"{kind}_accuracy_reference"]) == {name}
        if value is None:
            assert board[f"{kind}_accuracy"].isna().all() and board[f"{kind}_accuracy_difference"].isna().all()
        else:
            assert (board[f"{kind}_accuracy"] == value).all()
            assert board[f"{kind}_accuracy_difference"].tolist() == pytest.approx(
                (board["test_accuracy"] - value).tolist())


def test_the_verdict_stands_on_nas_rows_with_its_interval_and_says_when_there_is_none():
    board = leaderboard_rows(RETINA, SUMMARY, VERDICTS)
    incumbent, ensemble = row(board, "nas", "incumbent"), row(board, "nas", "seed_ensemble")
    assert incumbent["nas_vs_random_accuracy"] == "better"
    assert (incumbent["nas_vs_random_seeds"], incumbent["nas_vs_random_basis"]) == (1, "1")
    assert [incumbent[f"nas_vs_random_accuracy_{key}"] for key in ("difference", "ci_low", "ci_high")] == [
        0.05, 0.01, 0.09]
    assert ensemble["nas_vs_random_accuracy"] == "not compared" and ensemble["nas_vs_random_seeds"] == 0
    assert board.loc[board["method"] != "nas", "nas_vs_random_accuracy"].isna().all()


def test_the_markdown_says_how_many_seeds_what_is_missing_and_reads_the_verdict_off_the_interval():
    other = {"flag": "pneumoniamnist", "size": 64, "task": None}
    board = pd.concat([leaderboard_rows(RETINA, SUMMARY, VERDICTS), leaderboard_rows(other, SUMMARY, VERDICTS)])
    links = {"retinamnist 28 px": "[retinamnist 28 px](r/summary.md)", "pneumoniamnist 64 px": "[p 64](p/summary.md)"}
    markdown = render_leaderboard(board, links, {"retinamnist 28 px": [BETTER]}, "leaderboard.png")
    nas = row(board.iloc[:6], "nas", "incumbent")
    expected = (f"| [retinamnist 28 px](r/summary.md) | NAS+BOHB, incumbent | n=3 seeds | {nas['test_accuracy']:.4f} "
                f"± {nas['test_accuracy_std']:.4f} | 0.7500 ± {nas['test_auc_std']:.4f} (1 undefined left out) |")
    assert expected in markdown
    assert ("| [p 64](p/summary.md) | random cells+BOHB, incumbent | n=1 seed | 0.4500 | 0.6600 | — | — | — | — |"
            in markdown)
    assert "- [p 64](p/summary.md): accuracy, from scratch: none in the reference table for pneumoniamnist at 64 px;" \
        in markdown
    assert "ResNet-50 (28) (from scratch, 28 px; MedMNIST v2) 0.528" in markdown and UNCHECKED_NOTE in markdown
    assert ("- [retinamnist 28 px](r/summary.md): **NAS+BOHB − random cells+BOHB, incumbent: NAS+BOHB is better "
            "(±0.0400)** (+0.0500 test accuracy, 95% CI +0.0100 to +0.0900") in markdown
    assert "![Test ACC and AUC per data set](leaderboard.png)" in markdown
    # Only a row from one transcription brings the note.
    assert UNCHECKED_NOTE not in render_leaderboard(board.iloc[6:], links, {}, "leaderboard.png")


def test_the_script_writes_the_leaderboard_of_two_reports_from_their_per_seed_files(tmp_path):
    entries, trees = [], {}
    for flag, size in (("retinamnist", 28), ("pneumoniamnist", 64)):
        tree = write_result_tree(tmp_path / "results" / f"{flag}_{size}", nas_seeds=(1, 2), baseline_seeds=(1,),
                                 random_seeds=(1, 2), dataset=flag, size=size)
        out = tmp_path / "reports" / f"{flag}_{size}"
        figures = [str(out / f"{kind}.png") for kind in ("bohb_progress", "arch_weights", "cells", "scores")]
        assert run_script("report.py", ["--run", json.dumps(tree.manifest()), "--csv", str(out / "summary.csv"),
                                        "--figures", *figures,
                                        "--ensemble-csv", str(out / "ensemble.csv"), "--resamples", "20",
                                        "--comparisons-csv", str(out / "comparisons.csv"),
                                        "--search-csv", str(out / "search.csv"),
                                        "--markdown", str(out / "summary.md")]) == 0
        entries.append({"flag": flag, "size": size, "task": None, "reports": str(out)})
        trees[flag, size] = tree
    outputs = [str(tmp_path / "reports" / f"leaderboard.{extension}") for extension in ("csv", "md", "png", "svg")]
    assert run_script("leaderboard.py", ["--run", json.dumps({"datasets": entries}), "--output", *outputs]) == 0
    board = pd.read_csv(outputs[0])
    for (flag, size), tree in trees.items():
        for method in ("nas", "random", "baseline"):
            for output, files in (("incumbent", tree.metrics), ("seed_ensemble", tree.ensembles)):
                found = row(board[(board["dataset"] == flag) & (board["size"] == size)], method, output)
                seeds = tree.seeds_of(method)
                assert found["n"] == len(seeds)
                for metric in ("accuracy", "auc"):
                    assert found[f"test_{metric}"] == pytest.approx(
                        sum(files[(method, seed)][metric] for seed in seeds) / len(seeds), rel=1e-12)
    assert (board.loc[board["method"] == "nas", "nas_vs_random_basis"] == "ensemble").all()
    markdown = (tmp_path / "reports" / "leaderboard.md").read_text()
    assert "[pneumoniamnist 64 px](pneumoniamnist_64/summary.md)" in markdown and "](leaderboard.png)" in markdown
    assert_real_png(tmp_path / "reports" / "leaderboard.png")
    assert_real_svg(tmp_path / "reports" / "leaderboard.svg")
