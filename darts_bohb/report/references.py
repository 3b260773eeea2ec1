"""Published test scores, each row one row of its source, with its model, training and resolution,
since a pretrained model is no result on this data alone. For the twelve MedMNIST 2D data sets at
28 px, the seven baselines of MedMNIST v2's Table 3 (Yang et al., Scientific Data 2023) as public
repositories transcribe them (docs/published_references.md; the paper could not be opened here). A
row is `checked` when two or more independent transcriptions give both numbers alike, and more of
them than give another value; a number none gives, or on which they split evenly, leaves its row
out. For RetinaMNIST, two rows of MedMNIST+ (Doerrich et al. 2024; ImageNet-pretrained, 28 px padded
to 224, mean of 3 seeds) as DESIGN.md transcribes them."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

SOURCE = ("MedMNIST v2 (Yang et al., Scientific Data 2023; Table 3 as transcribed, docs/published_references.md) "
          "and, for RetinaMNIST, MedMNIST+ (Doerrich et al. 2024), test split")
SHORT_SOURCE = "MedMNIST v2, Table 3; MedMNIST+ for RetinaMNIST; test split"
UNCHECKED_MARK = "†"
UNCHECKED_NOTE = (f"{UNCHECKED_MARK} from one transcription of the paper's table, not cross-checked "
                  "(docs/published_references.md)")
MEDMNIST_V2, MEDMNIST_PLUS = "MedMNIST v2", "MedMNIST+"
FROM_SCRATCH, END_TO_END, LINEAR_PROBE, NOT_STATED = (
    "from scratch", "pretrained, end to end", "pretrained, linear probe", "not stated")
PRETRAINED = "pretrained"  # the kind of END_TO_END and LINEAR_PROBE
KINDS = (FROM_SCRATCH, PRETRAINED, NOT_STATED)
# How MedMNIST v2 trained each model and on what images; the AutoML services do not say.
MEDMNIST_V2_TRAINING = {
    **{f"ResNet-{depth} (28)": (FROM_SCRATCH, "28 px") for depth in (18, 50)},
    **{f"ResNet-{depth} (224)": (FROM_SCRATCH, "28 px resized to 224") for depth in (18, 50)},
    **{service: (NOT_STATED, "28 px") for service in ("auto-sklearn", "AutoKeras", "Google AutoML Vision")},
}


@dataclass(frozen=True)
class PublishedResult:
    dataset: str  # MedMNIST flag
    size: int  # the image size of the data set it is a result on
    model: str
    training: str  # FROM_SCRATCH, END_TO_END, LINEAR_PROBE or NOT_STATED
    resolution: str  # what the model saw
    accuracy: float
    auc: float
    source: str
    checked: bool = True  # both numbers agreed on by two or more independent transcriptions
    digits: int = 3  # as published

    @property
    def label(self) -> str:
        return self.model if self.checked else f"{self.model} {UNCHECKED_MARK}"

    @property
    def kind(self) -> str:  # one of KINDS
        return PRETRAINED if self.training.startswith(PRETRAINED) else self.training

    def value(self, metric: str) -> str:
        return f"{getattr(self, metric):.{self.digits}f}"


def unchecked_note(references: tuple[PublishedResult, ...]) -> str | None:
    return None if all(ref.checked for ref in references) else UNCHECKED_NOTE


# (flag, model, test ACC, test AUC, checked)
MEDMNIST_V2_28 = (
    ("pathmnist", "ResNet-18 (28)", 0.907, 0.983, True),
    ("pathmnist", "ResNet-18 (224)", 0.909, 0.989, True),
    ("pathmnist", "ResNet-50 (28)", 0.911, 0.990, True),
    ("pathmnist", "ResNet-50 (224)", 0.892, 0.989, True),
    ("pathmnist", "auto-sklearn", 0.716, 0.934, True),
    ("pathmnist", "AutoKeras", 0.834, 0.959, True),
    ("pathmnist", "Google AutoML Vision", 0.728, 0.944, True),
    ("chestmnist", "ResNet-18 (28)", 0.947, 0.768, False),
    ("chestmnist", "ResNet-18 (224)", 0.947, 0.773, False),
    ("chestmnist", "ResNet-50 (224)", 0.948, 0.773, True),
    ("chestmnist", "auto-sklearn", 0.779, 0.649, False),
    ("chestmnist", "AutoKeras", 0.937, 0.742, False),
    ("chestmnist", "Google AutoML Vision", 0.948, 0.778, False),
    ("dermamnist", "ResNet-18 (28)", 0.735, 0.917, True),
    ("dermamnist", "ResNet-18 (224)", 0.754, 0.920, True),
    ("dermamnist", "ResNet-50 (28)", 0.735, 0.913, False),
    ("dermamnist", "ResNet-50 (224)", 0.731, 0.912, True),
    ("octmnist", "ResNet-18 (28)", 0.743, 0.943, True),
    ("octmnist", "ResNet-18 (224)", 0.763, 0.958, False),
    ("octmnist", "ResNet-50 (28)", 0.762, 0.952, False),
    ("octmnist", "ResNet-50 (224)", 0.776, 0.958, True),
    ("octmnist", "auto-sklearn", 0.601, 0.887, False),
    ("octmnist", "AutoKeras", 0.763, 0.955, False),
    ("octmnist", "Google AutoML Vision", 0.771, 0.963, True),
    ("pneumoniamnist", "ResNet-18 (28)", 0.854, 0.944, True),
    ("pneumoniamnist", "ResNet-18 (224)", 0.864, 0.956, False),
    ("pneumoniamnist", "ResNet-50 (28)", 0.854, 0.948, False),
    ("pneumoniamnist", "ResNet-50 (224)", 0.884, 0.962, True),
    ("pneumoniamnist", "auto-sklearn", 0.855, 0.942, False),
    ("pneumoniamnist", "AutoKeras", 0.878, 0.947, False),
    ("pneumoniamnist", "Google AutoML Vision", 0.946, 0.991, True),
    ("retinamnist", "ResNet-18 (28)", 0.524, 0.717, True),
    ("retinamnist", "ResNet-18 (224)", 0.493, 0.710, False),
    ("retinamnist", "ResNet-50 (28)", 0.528, 0.726, True),
    ("retinamnist", "ResNet-50 (224)", 0.511, 0.716, True),
    ("retinamnist", "auto-sklearn", 0.515, 0.690, True),
    ("retinamnist", "AutoKeras", 0.503, 0.719, True),
    ("retinamnist", "Google AutoML Vision", 0.531, 0.750, True),
    ("breastmnist", "ResNet-18 (28)", 0.863, 0.901, True),
    ("breastmnist", "ResNet-50 (28)", 0.812, 0.857, False),
    ("breastmnist", "ResNet-50 (224)", 0.842, 0.866, False),
    ("breastmnist", "AutoKeras", 0.831, 0.871, False),
    ("breastmnist", "Google AutoML Vision", 0.861, 0.919, True),
    ("bloodmnist", "ResNet-18 (28)", 0.958, 0.998, True),
    ("bloodmnist", "ResNet-18 (224)", 0.963, 0.998, False),
    ("bloodmnist", "ResNet-50 (224)", 0.950, 0.997, False),
    ("tissuemnist", "ResNet-18 (28)", 0.676, 0.930, True),
    ("tissuemnist", "ResNet-18 (224)", 0.681, 0.933, False),
    ("tissuemnist", "ResNet-50 (28)", 0.680, 0.931, False),
    ("tissuemnist", "ResNet-50 (224)", 0.680, 0.932, True),
    ("organamnist", "ResNet-18 (28)", 0.935, 0.997, True),
    ("organamnist", "ResNet-18 (224)", 0.951, 0.998, False),
    ("organamnist", "ResNet-50 (28)", 0.935, 0.997, False),
    ("organamnist", "ResNet-50 (224)", 0.947, 0.998, True),
    ("organamnist", "auto-sklearn", 0.762, 0.963, False),
    ("organamnist", "AutoKeras", 0.905, 0.994, False),
    ("organamnist", "Google AutoML Vision", 0.886, 0.990, False),
    ("organcmnist", "ResNet-18 (28)", 0.900, 0.992, True),
    ("organcmnist", "ResNet-50 (28)", 0.905, 0.992, False),
    ("organcmnist", "ResNet-50 (224)", 0.911, 0.993, False),
    ("organcmnist", "auto-sklearn", 0.829, 0.976, False),
    ("organcmnist", "AutoKeras", 0.879, 0.990, False),
    ("organcmnist", "Google AutoML Vision", 0.877, 0.988, False),
    ("organsmnist", "ResNet-18 (28)", 0.782, 0.972, False),
    ("organsmnist", "ResNet-50 (224)", 0.785, 0.975, False),
)

REFERENCES = (
    *(PublishedResult(flag, 28, model, *MEDMNIST_V2_TRAINING[model], accuracy, auc, MEDMNIST_V2, checked)
      for flag, model, accuracy, auc, checked in MEDMNIST_V2_28),
    # One transcription (DESIGN.md); the paper's tables could not be read here (docs/published_references.md).
    PublishedResult("retinamnist", 28, "VGG16", END_TO_END, "28 px padded to 224", 0.5417, 0.7535, MEDMNIST_PLUS,
                    checked=False, digits=4),
    PublishedResult("retinamnist", 28, "ViT-B/16", LINEAR_PROBE, "28 px padded to 224", 0.5425, 0.7309,
                    MEDMNIST_PLUS, checked=False, digits=4),
)


def published_results(flag: str, size: int) -> tuple[PublishedResult, ...]:
    """Numbers from another image size are not comparable: RetinaMNIST at 64 px gets none."""
    return tuple(ref for ref in REFERENCES if (ref.dataset, ref.size) == (flag, size))


def best_published(references: tuple[PublishedResult, ...], metric: str) -> dict[str, PublishedResult | None]:
    """Per kind of training (KINDS), the row with the highest `metric` or None; the first listed wins a tie."""
    return {kind: max((ref for ref in references if ref.kind == kind), key=attrgetter(metric), default=None)
            for kind in KINDS}
