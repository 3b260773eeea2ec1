"""The published references: MedMNIST v2's Table 3 for every 2D data set at 28 px, as transcribed
(darts_bohb/report/references.py); none at other sizes or for a data set of the user's own."""

from __future__ import annotations

import pytest
from medmnist.info import INFO

from darts_bohb.report.references import MEDMNIST_V2_28, published_results

FLAGS_2D = [flag for flag in INFO if not flag.endswith("3d")]
MODELS = {"ResNet-18 (28)", "ResNet-18 (224)", "ResNet-50 (28)", "ResNet-50 (224)", "auto-sklearn", "AutoKeras",
          "Google AutoML Vision"}


@pytest.mark.parametrize("flag", FLAGS_2D)
def test_every_2d_data_set_has_references_at_28_px_only(flag):
    references = published_results(flag, 28)
    assert len(references) >= 2
    assert {ref.model for ref in references} - {"MedMNIST+ best (28 px padded to 224, ImageNet-pretrained)"} <= MODELS
    assert all(0.0 < ref.accuracy <= 1.0 and 0.5 <= ref.auc <= 1.0 for ref in references)
    for size in (64, 128, 224):
        assert published_results(flag, size) == ()


def test_the_table_has_one_row_per_data_set_and_model_and_no_other_flag():
    keys = [(flag, model) for flag, model, *_ in MEDMNIST_V2_28]
    assert len(keys) == len(set(keys))
    assert {flag for flag, _ in keys} == set(FLAGS_2D)


def test_a_data_set_of_ones_own_has_none():
    assert published_results("my_fundus_photos", 28) == ()


def test_retinamnist_keeps_the_design_documents_numbers_and_medmnist_plus():
    # DESIGN.md's RetinaMNIST table, the one the project started from, is one of the transcriptions.
    by_model = {ref.model: ref for ref in published_results("retinamnist", 28)}
    for model, accuracy, auc in (("ResNet-18 (28)", 0.524, 0.717), ("ResNet-50 (28)", 0.528, 0.726),
                                 ("auto-sklearn", 0.515, 0.690), ("AutoKeras", 0.503, 0.719),
                                 ("Google AutoML Vision", 0.531, 0.750)):
        assert (by_model[model].accuracy, by_model[model].auc, by_model[model].checked) == (accuracy, auc, True)
    assert max(by_model.values(), key=lambda ref: ref.accuracy).model.startswith("MedMNIST+ best")
