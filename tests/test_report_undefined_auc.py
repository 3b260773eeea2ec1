"""An undefined test AUC (a class without a test image: metrics.json holds null) is shown as "—"
in the report, and the means say it was left out, instead of stopping the report."""

import json

import pandas as pd

from report_fixtures import write_result_tree
from test_report_summary import write_report


def test_a_null_test_auc_shows_as_a_dash(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1, 2))
    metrics_path = tree.final_file("nas", 2, "metrics.json")
    metrics = json.loads(metrics_path.read_text())
    metrics["auc"] = None
    metrics_path.write_text(json.dumps(metrics))
    out = tmp_path / "reports"
    assert write_report(tree, out) == 0

    summary = pd.read_csv(out / "summary.csv")
    nas = summary[(summary.method == "nas") & (summary.output == "incumbent")].set_index("seed")
    assert pd.isna(nas.loc[2, "test_auc"]) and nas.loc[[1, 3], "test_auc"].notna().all()
    markdown = (out / "summary.md").read_text()
    assert "nan" not in markdown.lower()
    seed_rows = [line for line in markdown.splitlines() if line.startswith("| NAS+BOHB | 2 | incumbent |")]
    assert len(seed_rows) == 1 and " — |" in seed_rows[0]
    mean_auc = nas.loc[[1, 3], "test_auc"].mean()
    assert f"{mean_auc:.4f} ± " in markdown and "(1 undefined left out)" in markdown
