"""The relation functions against independent, written-out formulas (float64 numpy loops)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.losses.cross_entropy_loss import soft_cross_entropy

from cgh_mm.models.utils import (
    entropy_fraction,
    mean_pairwise_cosine,
    relation_logits,
    relation_target,
)

SIZES = [(1, 4, 3), (5, 8, 16), (8, 16, 64)]  # (N, C, K)
TEMPERATURES = [0.04, 0.1, 1.0]


def unit_rows(n, c, seed):
    return F.normalize(torch.randn(n, c, generator=torch.Generator().manual_seed(seed)), dim=1)


def softmax_row(x):
    e = [math.exp(v - max(x)) for v in x]
    return [v / sum(e) for v in e]


def log_softmax_row(x):
    top = max(x)
    log_sum = top + math.log(sum(math.exp(v - top) for v in x))
    return [v - log_sum for v in x]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


@pytest.mark.parametrize('n,c,k', SIZES)
def test_relation_logits_are_cosines_to_every_slot(n, c, k):
    emb, queue = unit_rows(n, c, 0), unit_rows(k, c, 1)
    got = relation_logits(emb, queue)
    assert got.shape == (n, k) and got.dtype == torch.float32
    e, q = emb.double().tolist(), queue.double().tolist()
    expected = [[dot(e[i], q[j]) for j in range(k)] for i in range(n)]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    for dtype in (torch.float16, torch.bfloat16):  # low-precision queues, float32 out
        low = relation_logits(emb, queue.to(dtype))
        assert low.dtype == torch.float32
        np.testing.assert_allclose(low.numpy(), expected, atol=2e-2)


@pytest.mark.parametrize('n,c,k', SIZES)
@pytest.mark.parametrize('student_temp,teacher_temp', [(0.1, 0.04), (0.08, 0.08), (1.0, 0.5)])
def test_cross_context_loss_formula(n, c, k, student_temp, teacher_temp):
    # the head's relational loss: mmpretrain's soft cross-entropy on relation_target
    student = torch.randn(n, k, generator=torch.Generator().manual_seed(2))
    teacher = torch.randn(n, k, generator=torch.Generator().manual_seed(3))
    got = soft_cross_entropy(student / student_temp, relation_target(teacher, teacher_temp))
    rows = []
    for s, t in zip(student.double().tolist(), teacher.double().tolist()):
        p = softmax_row([v / teacher_temp for v in t])
        log_q = log_softmax_row([v / student_temp for v in s])
        rows.append(-sum(pi * lq for pi, lq in zip(p, log_q)))
    assert got.item() == pytest.approx(sum(rows) / n, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize('n,c,k', SIZES)
@pytest.mark.parametrize('temperature', TEMPERATURES)
def test_entropy_fraction_formula(n, c, k, temperature):
    logits = torch.randn(n, k, generator=torch.Generator().manual_seed(7))
    rows = []
    for row in logits.double().tolist():
        p = softmax_row([v / temperature for v in row])
        rows.append(-sum(pi * math.log(pi) for pi in p if pi > 0) / math.log(k))
    assert entropy_fraction(F.softmax(logits / temperature, 1)).item() == pytest.approx(
        sum(rows) / n, rel=1e-5, abs=1e-6)


def test_entropy_fraction_of_uniform_and_one_hot_targets():
    assert entropy_fraction(torch.full((3, 4096), 1 / 4096)).item() == pytest.approx(1.0,
                                                                                    abs=1e-6)
    one_hot = torch.zeros(3, 4096)
    one_hot[:, 7] = 1.0
    assert entropy_fraction(one_hot).item() == 0.0


@pytest.mark.parametrize('n,c,k', SIZES[1:])
def test_mean_pairwise_cosine_formula(n, c, k):
    emb = unit_rows(n, c, 8)
    e = emb.double().tolist()
    pairs = [dot(e[i], e[j]) for i in range(n) for j in range(n) if i != j]
    assert mean_pairwise_cosine(emb).item() == pytest.approx(sum(pairs) / len(pairs), abs=1e-5)
    assert mean_pairwise_cosine(emb[:1].repeat(n, 1)).item() == pytest.approx(1.0, abs=1e-5)


def test_gradients_reach_only_the_student():
    student = torch.randn(4, 8, requires_grad=True)
    teacher = torch.randn(4, 8, requires_grad=True)
    soft_cross_entropy(student / 0.1, relation_target(teacher, 0.04)).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None


def test_cross_entropy_minimum_is_the_target_entropy():
    logits = torch.randn(4, 32)
    target = F.softmax(logits, dim=1)
    entropy = entropy_fraction(target) * math.log(32)
    assert soft_cross_entropy(logits, target).item() == pytest.approx(entropy.item(), rel=1e-5)
    assert soft_cross_entropy(logits + torch.randn(4, 32), target).item() > entropy.item()


@pytest.mark.parametrize('queue_dtype', [torch.float32, torch.bfloat16, torch.float16])
def test_relation_logits_are_float32_products_under_autocast(queue_dtype):
    emb, queue = unit_rows(8, 32, 12), unit_rows(512, 32, 13).to(queue_dtype)
    expected = emb @ queue.float().T  # the stored slots, multiplied in float32
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = relation_logits(emb, queue)
        rounded = emb @ queue.float().T  # what autocast makes of a plain product
    assert got.dtype == torch.float32 and rounded.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    assert (rounded.float() - expected).abs().max() > 1e-4  # the rounding the function avoids
