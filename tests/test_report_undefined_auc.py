"""An undefined test AUC (a class without a test image: metrics.json holds null) stays empty in
summary.csv, and the means of summary.md say it was left out, instead of stopping the report."""

import json

import pandas as pd

from report_fixtures import write_result_tree
from test_report_summary import write_report


def test_a_null_test_auc_is_left_out_of_the_means_and_counted(tmp_path):
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
    mean_auc, std_auc = nas.loc[[1, 3], "test_auc"].mean(), nas.loc[[1, 3], "test_auc"].std()
    assert f"| {mean_auc:.4f} ± {std_auc:.4f} (1 undefined left out) |" in markdown
