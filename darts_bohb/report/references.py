"""Published test scores to compare against, for the data sets where they exist."""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = ("MedMNIST v2 (Yang et al., Scientific Data 2023) and the best RetinaMNIST 28×28 entry of MedMNIST+ "
          "(Doerrich et al. 2024), test split")


@dataclass(frozen=True)
class PublishedResult:
    model: str
    accuracy: float
    auc: float


RETINAMNIST_28 = (
    PublishedResult("ResNet-18 (28)", 0.524, 0.717),
    PublishedResult("ResNet-50 (28)", 0.528, 0.726),
    PublishedResult("auto-sklearn", 0.515, 0.690),
    PublishedResult("AutoKeras", 0.503, 0.719),
    PublishedResult("Google AutoML Vision", 0.531, 0.750),
    # Images padded to 224 px for ImageNet-pretrained backbones: far more compute than 28 px.
    PublishedResult("MedMNIST+ best (28 px padded to 224, ImageNet-pretrained)", 0.5425, 0.7535),
)


def published_results(flag: str, size: int) -> tuple[PublishedResult, ...]:
    """The published numbers for this data set and image size; none where the table has none.

    Numbers from another image size are not comparable, so RetinaMNIST at 64 px gets none.
    """
    return RETINAMNIST_28 if (flag, size) == ("retinamnist", 28) else ()
