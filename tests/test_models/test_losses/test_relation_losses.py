import math

import pytest
import torch
import torch.nn.functional as F

from cgh_mm.models.losses import (
    cross_context_loss,
    info_nce,
    loss_warmup_alpha,
    paired_relation_logits,
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
    queue = F.normalize(torch.randn(16, 8), dim=1)
    info_nce(query, key, relation_logits(query, queue), 0.2).backward()
    assert query.grad is not None and query.grad.abs().sum() > 0
    assert key.grad is None


def test_info_nce_by_hand():
    query = torch.tensor([[1.0, 0.0]])
    key = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # slots (0, 1) and (-1, 0)
    negatives = relation_logits(query, queue)
    assert negatives.tolist() == [[0.0, -1.0]]
    expected = -math.log(math.e / (math.e + 1.0 + math.exp(-1.0)))
    assert info_nce(query, key, negatives, 1.0).item() == pytest.approx(expected, abs=1e-6)
    # temperature 0.5 doubles every logit
    expected = -math.log(math.exp(2) / (math.exp(2) + 1.0 + math.exp(-2.0)))
    assert info_nce(query, key, negatives, 0.5).item() == pytest.approx(expected, abs=1e-6)


def test_relation_logits_are_float32_for_low_precision_queues():
    emb = F.normalize(torch.randn(3, 8), dim=1)
    queue = F.normalize(torch.randn(5, 8), dim=1)
    exact = relation_logits(emb, queue)
    assert exact.shape == (3, 5) and exact.dtype == torch.float32
    for dtype in (torch.float16, torch.bfloat16):
        low = relation_logits(emb, queue.to(dtype))
        assert low.dtype == torch.float32
        assert torch.allclose(low, exact, atol=2e-2)


def test_paired_relation_logits_match_two_matmuls():
    student = F.normalize(torch.randn(3, 8), dim=1).requires_grad_()
    teacher = F.normalize(torch.randn(5, 8), dim=1).requires_grad_()
    queue = F.normalize(torch.randn(16, 8), dim=1)  # (K, C)
    student_logits, teacher_logits = paired_relation_logits(student, teacher, queue)
    assert student_logits.shape == (3, 16) and teacher_logits.shape == (5, 16)
    assert student_logits.is_contiguous() and teacher_logits.is_contiguous()
    torch.testing.assert_close(student_logits, student.detach() @ queue.T)
    torch.testing.assert_close(teacher_logits, teacher.detach() @ queue.T)
    assert not teacher_logits.requires_grad

    weights = torch.randn(3, 16)
    (student_logits * weights).sum().backward()
    torch.testing.assert_close(student.grad, weights @ queue)
    assert teacher.grad is None


def test_paired_relation_logits_gradcheck():
    student = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(3, 4, dtype=torch.float64)
    queue = torch.randn(6, 4, dtype=torch.float64)
    # The logits are float32 by design: check the float64 Jacobian through a
    # float64 reference instead of gradcheck's finite differences on float32.
    logits, _ = paired_relation_logits(student, teacher, queue)
    assert logits.dtype == torch.float32
    grad_out = torch.randn(2, 6, dtype=torch.float32)
    grad, = torch.autograd.grad(logits, student, grad_out)
    torch.testing.assert_close(grad, grad_out.double() @ queue)
    assert grad.dtype == torch.float64


@pytest.mark.parametrize('threads,queue_len', [(1, 12), (2, 12), (3, 12), (2, 7)])
def test_student_gradient_with_split_reduction(threads, queue_len):
    # On CPU the backward splits the queue into one slice per thread when it can.
    student = torch.randn(3, 8, requires_grad=True)
    queue = torch.randn(queue_len, 8)
    weights = torch.randn(3, queue_len)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        logits, _ = paired_relation_logits(student, torch.randn(2, 8), queue)
        grad, = torch.autograd.grad((logits * weights).sum(), student)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(grad, weights @ queue)


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_relations_over_several_slot_blocks(dtype):
    # On CPU the queue is read in blocks of slots: a length that is not a
    # multiple of the block must come out whole and in order.
    student = F.normalize(torch.randn(3, 8), dim=1)
    teacher = F.normalize(torch.randn(2, 8), dim=1)
    queue = F.normalize(torch.randn(2 * 2048 + 5, 8), dim=1).to(dtype)
    student_logits, teacher_logits = paired_relation_logits(student, teacher, queue)
    reference = torch.cat([student, teacher]).to(dtype).float() @ queue.float().T
    tol = dict(rtol=0, atol=1e-5) if dtype == torch.float32 else dict(rtol=0, atol=2e-2)
    torch.testing.assert_close(student_logits, reference[:3], **tol)
    torch.testing.assert_close(teacher_logits, reference[3:], **tol)
    assert student_logits.dtype == torch.float32 and student_logits.is_contiguous()


def test_relation_logits_name_a_transposed_queue():
    with pytest.raises(ValueError, match=r'must be \(K, C\)'):
        relation_logits(torch.randn(2, 8), torch.randn(8, 16))


@pytest.mark.parametrize('iteration,expected', [(0, 0.0), (50, 0.5), (99, 0.99), (100, 1.0),
                                                (1000, 1.0)])
def test_loss_warmup_alpha(iteration, expected):
    assert loss_warmup_alpha(iteration, 100) == pytest.approx(expected)


def test_loss_warmup_alpha_edge_cases():
    assert loss_warmup_alpha(0, 0) == 1.0
    with pytest.raises(ValueError, match='iteration'):
        loss_warmup_alpha(-1, 10)
