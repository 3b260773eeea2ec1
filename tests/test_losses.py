import torch
import torch.nn.functional as F

from darts_bohb.losses import FocalLoss, class_weights, make_loss


def test_class_weights_interpolate_between_uniform_and_inverse_frequency():
    counts = torch.tensor([486, 128, 206, 194, 66])
    assert torch.allclose(class_weights(counts, 0.0), torch.ones(5))
    inverse = class_weights(counts, 1.0)
    assert torch.allclose(inverse * counts, (inverse * counts)[0].expand(5), rtol=1e-5)
    half = class_weights(counts, 0.5)
    assert torch.allclose(half.mean(), torch.tensor(1.0))
    assert half[4] > half[1] > half[0] and half[4] < inverse[4]


def test_empty_class_gets_zero_weight_and_others_stay_finite():
    weights = class_weights(torch.tensor([10, 0, 5]), 1.0)
    assert weights[1] == 0 and torch.isfinite(weights).all() and weights[2] > weights[0]


def test_gamma_zero_is_exactly_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, target = torch.randn(32, 5), torch.randint(0, 5, (32,))
    weight = class_weights(torch.tensor([50, 10, 20, 15, 5]), 0.7)
    expected = F.cross_entropy(logits, target, weight=weight)
    assert torch.allclose(FocalLoss(0.0, weight)(logits, target), expected, atol=1e-6)
    assert torch.allclose(make_loss("ce", torch.tensor([50, 10, 20, 15, 5]), gamma=3.0,
                                    class_weight_exponent=0.7)(logits, target), expected, atol=1e-6)


def test_focal_term_down_weights_confident_correct_samples():
    target = torch.tensor([0, 0])
    logits = torch.tensor([[6.0, 0, 0], [0.5, 0, 0]])  # confident vs hesitant, both correct
    ce = F.cross_entropy(logits, target, reduction="none")
    focal = torch.stack([FocalLoss(2.0, torch.ones(3))(logits[i:i + 1], target[i:i + 1]) for i in range(2)])
    assert (focal < ce).all()
    assert (focal / ce)[0] < (focal / ce)[1]


def test_focal_loss_is_fp32_under_bf16_logits_and_differentiable():
    logits = torch.randn(8, 5, dtype=torch.bfloat16, requires_grad=True)
    loss = FocalLoss(2.0, torch.ones(5))(logits, torch.randint(0, 5, (8,)))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(logits.grad.float()).all()


