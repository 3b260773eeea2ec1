"""The published references: MedMNIST v2's Table 3 for every 2D data set at 28 px, as transcribed,
and two MedMNIST+ rows for RetinaMNIST (darts_bohb/report/references.py); each row one row of its
source, with its model, training and resolution; none at other sizes or for a data set of the
user's own; and the best row of each kind of training per metric."""

from __future__ import annotations

import pytest
from medmnist.info import INFO

from darts_bohb.report.references import (
    FROM_SCRATCH,
    MEDMNIST_PLUS,
    MEDMNIST_V2,
    MEDMNIST_V2_28,
    NOT_STATED,
    PRETRAINED,
    REFERENCES,
    best_published,
    published_results,
)

FLAGS_2D = [flag for flag in INFO if not flag.endswith("3d")]
MODELS = {"ResNet-18 (28)", "ResNet-18 (224)", "ResNet-50 (28)", "ResNet-50 (224)", "auto-sklearn", "AutoKeras",
          "Google AutoML Vision"}


@pytest.mark.parametrize("flag", FLAGS_2D)
def test_every_2d_data_set_has_references_at_28_px_only(flag):
    references = published_results(flag, 28)
    assert len(references) >= 2
    assert {ref.model for ref in references if ref.source == MEDMNIST_V2} <= MODELS
    assert all(0.0 < ref.accuracy <= 1.0 and 0.5 <= ref.auc <= 1.0 for ref in references)
    for size in (64, 128, 224):
        assert published_results(flag, size) == ()


def test_the_table_has_one_row_per_data_set_and_model_and_no_other_flag():
    keys = [(flag, model) for flag, model, *_ in MEDMNIST_V2_28]
    assert len(keys) == len(set(keys))
    assert {flag for flag, _ in keys} == set(FLAGS_2D)
    rows = [(ref.dataset, ref.size, ref.model, ref.training, ref.source) for ref in REFERENCES]
    assert len(rows) == len(set(rows)) == len(MEDMNIST_V2_28) + 2


def test_medmnist_v2_states_how_each_model_was_trained_and_on_what_images():
    training = {ref.model: (ref.training, ref.resolution) for ref in published_results("pathmnist", 28)}
    assert training == {
        "ResNet-18 (28)": (FROM_SCRATCH, "28 px"), "ResNet-50 (28)": (FROM_SCRATCH, "28 px"),
        "ResNet-18 (224)": (FROM_SCRATCH, "28 px resized to 224"),
        "ResNet-50 (224)": (FROM_SCRATCH, "28 px resized to 224"),
        "auto-sklearn": (NOT_STATED, "28 px"), "AutoKeras": (NOT_STATED, "28 px"),
        "Google AutoML Vision": (NOT_STATED, "28 px")}


def test_a_data_set_of_ones_own_has_none():
    assert published_results("my_fundus_photos", 28) == ()
    assert best_published((), "accuracy") == {FROM_SCRATCH: None, PRETRAINED: None, NOT_STATED: None}


def test_retinamnist_keeps_the_design_documents_rows_each_as_published():
    # DESIGN.md's RetinaMNIST table, the one the project started from, is one of the transcriptions.
    by_model = {ref.model: ref for ref in published_results("retinamnist", 28)}
    for model, accuracy, auc in (("ResNet-18 (28)", 0.524, 0.717), ("ResNet-50 (28)", 0.528, 0.726),
                                 ("auto-sklearn", 0.515, 0.690), ("AutoKeras", 0.503, 0.719),
                                 ("Google AutoML Vision", 0.531, 0.750)):
        assert (by_model[model].accuracy, by_model[model].auc, by_model[model].checked) == (accuracy, auc, True)
    # MedMNIST+: two rows of two models, never one row with the ACC of one and the AUC of the other.
    plus = [(ref.model, ref.training, ref.resolution, ref.accuracy, ref.auc, ref.value("accuracy"), ref.checked)
            for ref in by_model.values() if ref.source == MEDMNIST_PLUS]
    assert plus == [
        ("VGG16", "pretrained, end to end", "28 px padded to 224", 0.5417, 0.7535, "0.5417", False),
        ("ViT-B/16", "pretrained, linear probe", "28 px padded to 224", 0.5425, 0.7309, "0.5425", False)]
    assert by_model["ViT-B/16"].label == "ViT-B/16 †"  # one transcription: marked as such


@pytest.mark.parametrize("metric, kind, model", [
    ("accuracy", FROM_SCRATCH, "ResNet-50 (28)"), ("auc", FROM_SCRATCH, "ResNet-50 (28)"),
    ("accuracy", PRETRAINED, "ViT-B/16"), ("auc", PRETRAINED, "VGG16"),
    ("accuracy", NOT_STATED, "Google AutoML Vision"), ("auc", NOT_STATED, "Google AutoML Vision"),
])
def test_the_best_row_of_each_kind_of_training_per_metric(metric, kind, model):
    assert best_published(published_results("retinamnist", 28), metric)[kind].model == model


def test_a_kind_without_a_row_has_no_best():
    # MedMNIST v2 trained nothing pretrained: only RetinaMNIST has MedMNIST+ rows here.
    best = best_published(published_results("pathmnist", 28), "auc")
    assert best[PRETRAINED] is None and best[FROM_SCRATCH].model == "ResNet-50 (28)"
