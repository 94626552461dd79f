import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from cgh_mm.models.losses import cross_context_loss, info_nce


def embeddings(n=4, c=8, k=16, requires_grad=True):
    student = [F.normalize(torch.randn(n, c), dim=1).requires_grad_(requires_grad)
               for _ in range(2)]
    teacher = [F.normalize(torch.randn(n, c), dim=1) for _ in range(2)]
    queues = [F.normalize(torch.randn(k, c), dim=1) for _ in range(2)]  # (K, C)
    return student, teacher, queues


def test_terms_match_the_pure_functions_and_weights():
    head = MODELS.build(dict(type='CrossContextHead'))
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    alpha = 0.3
    out = head.loss(sg, sh, tg, th, qg, qh, alpha=alpha)
    assert set(out) == {'loss_nce', 'loss_hyper', 'loss_global'}
    hyper = cross_context_loss(sh @ qh.T, tg @ qg.T, 0.08, 0.04)
    glob = cross_context_loss(sg @ qg.T, th @ qh.T, 0.1, 0.08)
    nce = info_nce(sg, tg, sg @ qg.T, 0.2) + info_nce(sh, th, sh @ qh.T, 0.2)
    assert out['loss_hyper'].item() == pytest.approx(alpha * 0.5 * hyper.item(), rel=1e-5)
    assert out['loss_global'].item() == pytest.approx(alpha * 0.5 * glob.item(), rel=1e-5)
    assert out['loss_nce'].item() == pytest.approx((1 - alpha) * nce.item(), rel=1e-5)


def test_alpha_zero_is_pure_infonce_and_alpha_one_skips_it():
    head = MODELS.build(dict(type='CrossContextHead'))
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    start = head.loss(sg, sh, tg, th, qg, qh, alpha=0.0)
    assert start['loss_hyper'].item() == 0 and start['loss_global'].item() == 0
    assert start['loss_nce'].item() > 0
    end = head.loss(sg, sh, tg, th, qg, qh, alpha=1.0)
    assert end['loss_nce'].item() == 0 and not end['loss_nce'].requires_grad
    assert end['loss_hyper'].item() > 0 and end['loss_global'].item() > 0


def test_temperatures_are_constructor_arguments():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    default = MODELS.build(dict(type='CrossContextHead')).loss(sg, sh, tg, th, qg, qh)
    other = MODELS.build(dict(type='CrossContextHead', teacher_global_temp=0.5)).loss(
        sg, sh, tg, th, qg, qh)
    assert other['loss_hyper'].item() != pytest.approx(default['loss_hyper'].item())
    assert other['loss_global'].item() == pytest.approx(default['loss_global'].item())
    with pytest.raises(ValueError, match='student_global_temp'):
        MODELS.build(dict(type='CrossContextHead', student_global_temp=0.0))


def test_local_crops_average_into_loss_global():
    head = MODELS.build(dict(type='CrossContextHead'))
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    local = [F.normalize(torch.randn(4, 8), dim=1).requires_grad_() for _ in range(2)]
    out = head.loss(sg, sh, tg, th, qg, qh, alpha=1.0, local_student_global=local)
    terms = [cross_context_loss(x @ qg.T, th @ qh.T, 0.1, 0.08) for x in [sg] + local]
    reference = 0.5 * sum(terms) / 3
    assert out['loss_global'].item() == pytest.approx(reference.item(), rel=1e-5)
    # The crops share one GEMM with the main view: each still gets its own gradient.
    got = torch.autograd.grad(out['loss_global'], [sg, *local])
    expected = torch.autograd.grad(reference, [sg, *local])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_gradient_flows_to_student_embeddings_only():
    head = MODELS.build(dict(type='CrossContextHead'))
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    tg.requires_grad_()
    out = head.loss(sg, sh, tg, th, qg, qh, alpha=0.5)
    sum(out.values()).backward()
    assert sg.grad.abs().sum() > 0 and sh.grad.abs().sum() > 0
    assert tg.grad is None
