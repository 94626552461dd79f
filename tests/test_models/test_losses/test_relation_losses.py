import math

import pytest
import torch
import torch.nn.functional as F

from cgh_mm.models.losses import (
    cross_context_loss,
    info_nce,
    loss_warmup_alpha,
    relation_logits,
    soft_target_cross_entropy,
)


def test_soft_target_cross_entropy_by_hand():
    # target (1, 0) against uniform logits: -log(1/2)
    loss = soft_target_cross_entropy(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    # mean over the batch: rows give log 2 and log 3
    loss = soft_target_cross_entropy(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
                                     torch.tensor([[0.0, 0.0, -1e9], [0.0, 0.0, 0.0]]))
    assert loss.item() == pytest.approx((math.log(2) + math.log(3)) / 2, abs=1e-5)


def test_target_equal_to_student_distribution_gives_entropy():
    logits = torch.tensor([[0.0, math.log(3.0)], [1.0, 2.0]])
    probs = F.softmax(logits, dim=1)
    entropy = -(probs * probs.log()).sum(1).mean()
    assert soft_target_cross_entropy(probs, logits).item() == pytest.approx(
        entropy.item(), abs=1e-6)
    # 1/4, 3/4 written out
    assert soft_target_cross_entropy(probs[:1], logits[:1]).item() == pytest.approx(
        -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), abs=1e-6)


def test_cross_context_loss_temperatures_by_hand():
    student = torch.tensor([[0.2, 0.0]])
    teacher = torch.tensor([[0.0, 0.04]])
    # teacher / 0.04 -> (0, 1); student / 0.1 -> (2, 0)
    target = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    log_p = torch.log_softmax(torch.tensor([2.0, 0.0]), 0)
    expected = -(target * log_p).sum()
    got = cross_context_loss(student, teacher, student_temp=0.1, teacher_temp=0.04)
    assert got.item() == pytest.approx(expected.item(), abs=1e-6)


def test_gradients_reach_only_the_student():
    student = torch.randn(4, 8, requires_grad=True)
    teacher = torch.randn(4, 8, requires_grad=True)
    cross_context_loss(student, teacher, 0.1, 0.04).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None

    query = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    key = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    queue = F.normalize(torch.randn(8, 16), dim=0)
    info_nce(query, key, relation_logits(query, queue), 0.2).backward()
    assert query.grad is not None and query.grad.abs().sum() > 0
    assert key.grad is None


def test_info_nce_by_hand():
    query = torch.tensor([[1.0, 0.0]])
    key = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # columns (0, 1) and (-1, 0)
    negatives = relation_logits(query, queue)
    assert negatives.tolist() == [[0.0, -1.0]]
    expected = -math.log(math.e / (math.e + 1.0 + math.exp(-1.0)))
    assert info_nce(query, key, negatives, 1.0).item() == pytest.approx(expected, abs=1e-6)
    # temperature 0.5 doubles every logit
    expected = -math.log(math.exp(2) / (math.exp(2) + 1.0 + math.exp(-2.0)))
    assert info_nce(query, key, negatives, 0.5).item() == pytest.approx(expected, abs=1e-6)


def test_relation_logits_are_float32_for_low_precision_queues():
    emb = F.normalize(torch.randn(3, 8), dim=1)
    queue = F.normalize(torch.randn(8, 5), dim=0)
    exact = relation_logits(emb, queue)
    assert exact.shape == (3, 5) and exact.dtype == torch.float32
    for dtype in (torch.float16, torch.bfloat16):
        low = relation_logits(emb, queue.to(dtype))
        assert low.dtype == torch.float32
        assert torch.allclose(low, exact, atol=2e-2)


@pytest.mark.parametrize('iteration,expected', [(0, 0.0), (50, 0.5), (99, 0.99), (100, 1.0),
                                                (1000, 1.0)])
def test_loss_warmup_alpha(iteration, expected):
    assert loss_warmup_alpha(iteration, 100) == pytest.approx(expected)


def test_loss_warmup_alpha_edge_cases():
    assert loss_warmup_alpha(0, 0) == 1.0
    with pytest.raises(ValueError, match='iteration'):
        loss_warmup_alpha(-1, 10)
