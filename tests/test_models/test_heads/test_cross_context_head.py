import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.losses.cross_entropy_loss import soft_cross_entropy
from mmpretrain.registry import MODELS
from torch._subclasses.fake_tensor import FakeTensorMode

from cgh_mm.models.utils import relation_target
from tests.helpers import HostSyncs, raises_stating


def cross_context_loss(student_logits, teacher_logits, student_temp, teacher_temp):
    """CE(softmax(teacher_logits / teacher_temp), student_logits / student_temp)."""
    return soft_cross_entropy(student_logits / student_temp,
                              relation_target(teacher_logits, teacher_temp))


def info_nce(query, key, negative_logits, temperature):
    """MoCo's InfoNCE: cross-entropy with the positive at index 0."""
    logits = torch.cat([(query * key).sum(1, keepdim=True), negative_logits], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))


def embeddings(n=4, c=8, k=16):
    student = [F.normalize(torch.randn(n, c), dim=1).requires_grad_() for _ in range(2)]
    teacher = [F.normalize(torch.randn(n, c), dim=1) for _ in range(2)]
    queues = [F.normalize(torch.randn(k, c), dim=1) for _ in range(2)]  # (K, C)
    return student, teacher, queues


def head(alpha=1.0, **kwargs):
    module = MODELS.build(dict(type='CrossContextHead', **kwargs))
    module.alpha = alpha
    return module


def test_terms_match_the_pure_functions_and_weights():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    out = head(alpha=0.3).loss(sg, sh, tg, th, qg, qh)
    assert {'loss_nce', 'loss_hyper', 'loss_global', 'alpha'} <= set(out)
    hyper = cross_context_loss(sh @ qh.T, tg @ qg.T, 0.08, 0.04)
    glob = cross_context_loss(sg @ qg.T, th @ qh.T, 0.1, 0.08)
    nce = info_nce(sg, tg, sg @ qg.T, 0.2) + info_nce(sh, th, sh @ qh.T, 0.2)
    assert out['loss_hyper'].item() == pytest.approx(0.3 * 0.5 * hyper.item(), rel=1e-5)
    assert out['loss_global'].item() == pytest.approx(0.3 * 0.5 * glob.item(), rel=1e-5)
    assert out['loss_nce'].item() == pytest.approx(0.7 * nce.item(), rel=1e-5)
    assert out['alpha'].item() == pytest.approx(0.3)


@pytest.mark.parametrize('temperature', [0.04, 0.2, 1.0])
def test_info_nce_formula(temperature):
    (sg, _), (tg, _), (qg, _) = embeddings(n=5, c=8, k=16)
    out = head(alpha=0.0, teaching='global', nce_temp=temperature).loss(
        sg, None, tg, None, qg, None)
    query, key, queue = sg.double(), tg.double(), qg.double()  # written out in float64
    logits = torch.cat([(query * key).sum(1, keepdim=True), query @ queue.T], 1) / temperature
    expected = -(logits[:, 0] - logits.logsumexp(1)).mean()
    assert out['loss_nce'].item() == pytest.approx(expected.item(), rel=1e-5)
    out['loss_nce'].backward()
    assert sg.grad.abs().sum() > 0 and tg.grad is None


def test_the_loss_on_a_gpu_copies_nothing_from_the_host():
    """On fake CUDA tensors (torch's FakeTensorMode), with InfoNCE on: its labels are made
    on the device, not copied there (a blocking copy each step)."""
    with FakeTensorMode():
        (sg, sh), (tg, th), (qg, qh) = (tuple(t.cuda() for t in pair) for pair in embeddings())
        module = head(alpha=0.5).cuda()
        with HostSyncs() as syncs:
            losses = module.loss(sg, sh, tg, th, qg, qh)
    assert losses['loss_nce'].is_cuda
    assert not syncs.found and not syncs.host_to_device, syncs.report()


def test_alpha_zero_is_pure_infonce_and_alpha_one_skips_it():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    start = head(alpha=0.0).loss(sg, sh, tg, th, qg, qh)
    assert start['loss_hyper'].item() == 0 and start['loss_global'].item() == 0
    assert start['loss_nce'].item() > 0
    end = head(alpha=1.0).loss(sg, sh, tg, th, qg, qh)
    assert end['loss_nce'].item() == 0 and not end['loss_nce'].requires_grad
    assert end['loss_hyper'].item() > 0 and end['loss_global'].item() > 0


def test_temperatures_are_constructor_arguments():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    default = head().loss(sg, sh, tg, th, qg, qh)
    other = head(teacher_global_temp=0.5).loss(sg, sh, tg, th, qg, qh)
    assert other['loss_hyper'].item() != pytest.approx(default['loss_hyper'].item())
    assert other['loss_global'].item() == pytest.approx(default['loss_global'].item())
    with raises_stating(ValueError, 'student_global_temp', 'got 0.0'):
        head(student_global_temp=0.0)


@pytest.mark.parametrize('weight', ['hypercolumn_weight', 'global_weight'])
def test_loss_weights_must_be_finite_and_not_negative(weight):
    # a negative weight makes the optimizer maximise its loss
    for bad in (-0.5, float('nan'), float('inf')):
        with raises_stating(ValueError, weight, repr(bad)):
            head(**{weight: bad})
    assert getattr(head(**{weight: 0.0}), weight) == 0.0  # switching a loss off is allowed


def test_local_crops_average_into_loss_global_with_their_own_gradients():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    local = [F.normalize(torch.randn(4, 8), dim=1).requires_grad_() for _ in range(2)]
    out = head().loss(sg, sh, tg, th, qg, qh, local_student_global=local)
    terms = [cross_context_loss(x @ qg.T, th @ qh.T, 0.1, 0.08) for x in [sg] + local]
    reference = 0.5 * sum(terms) / 3
    assert out['loss_global'].item() == pytest.approx(reference.item(), rel=1e-5)
    got = torch.autograd.grad(out['loss_global'], [sg, *local])
    expected = torch.autograd.grad(reference, [sg, *local])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_gradient_flows_to_student_embeddings_only():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    tg.requires_grad_()
    out = head(alpha=0.5).loss(sg, sh, tg, th, qg, qh)
    sum(v for k, v in out.items() if k.startswith('loss')).backward()
    assert sg.grad.abs().sum() > 0 and sh.grad.abs().sum() > 0
    assert tg.grad is None
    assert all(not v.requires_grad for k, v in out.items() if not k.startswith('loss'))


def test_health_of_flat_targets():
    # Every slot the same vector: every relation is the same number, so the teacher's
    # targets are uniform (entropy ln K) and the student matches them (KL 0).
    (sg, sh), (tg, th), _ = embeddings(k=64)
    queue = F.normalize(torch.ones(64, 8), dim=1)
    out = head().loss(sg, sh, tg, th, queue, queue)
    for name in ('hyper', 'global'):
        assert out[f'health/{name}_target_entropy'].item() == pytest.approx(1.0, abs=1e-6)
        assert out[f'health/{name}_kl'].item() == pytest.approx(0.0, abs=1e-5)


def test_health_of_sharp_targets_and_the_kl_part():
    # Each teacher embedding is a slot of the queue and the other slots point away:
    # with a tiny temperature the targets are one-hot (entropy 0).
    n, k = 4, 16
    queue = -F.normalize(torch.ones(k, n), dim=1)
    queue[:n] = torch.eye(n)
    teacher = torch.eye(n)
    student = [F.normalize(torch.randn(n, n), dim=1) for _ in range(2)]
    out = head(teacher_global_temp=1e-3, teacher_hypercolumn_temp=1e-3).loss(
        *student, teacher, teacher, queue, queue)
    loss_hyper_unweighted = out['loss_hyper'].item() / 0.5
    for name in ('hyper', 'global'):
        assert out[f'health/{name}_target_entropy'].item() == pytest.approx(0.0, abs=1e-4)
    # with a one-hot target the KL part is the whole cross-entropy
    assert out['health/hyper_kl'].item() == pytest.approx(loss_hyper_unweighted, rel=1e-4)
    assert out['health/hyper_kl'].item() > 0


def test_health_embedding_spread():
    n, c = 6, 8
    collapsed = F.normalize(torch.ones(n, c), dim=1)
    spread = torch.eye(c)[:n]  # orthogonal rows: cosine 0
    _, _, (qg, qh) = embeddings(n=n, c=c)
    out = head().loss(spread, spread, collapsed, collapsed, qg, qh)
    assert out['health/student_global_cos'].item() == pytest.approx(0.0, abs=1e-6)
    assert out['health/student_hyper_cos'].item() == pytest.approx(0.0, abs=1e-6)
    assert out['health/teacher_global_cos'].item() == pytest.approx(1.0, abs=1e-6)
    assert out['health/teacher_hyper_cos'].item() == pytest.approx(1.0, abs=1e-6)
    assert math.isfinite(out['health/global_kl'].item())


def test_same_teaching_pairs_each_context_with_itself_at_its_temperatures():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    out = head(teaching='same').loss(sg, sh, tg, th, qg, qh)
    hyper = cross_context_loss(sh @ qh.T, th @ qh.T, 0.08, 0.08)
    glob = cross_context_loss(sg @ qg.T, tg @ qg.T, 0.1, 0.04)
    assert out['loss_hyper'].item() == pytest.approx(0.5 * hyper.item(), rel=1e-5)
    assert out['loss_global'].item() == pytest.approx(0.5 * glob.item(), rel=1e-5)
    cross = head().loss(sg, sh, tg, th, qg, qh)
    assert out['loss_hyper'].item() != pytest.approx(cross['loss_hyper'].item())


def test_global_teaching_uses_global_relations_only():
    (sg, _), (tg, _), (qg, _) = embeddings()
    out = head(alpha=0.3, teaching='global', global_weight=1.0).loss(sg, None, tg, None, qg, None)
    assert not any('hyper' in key for key in out)
    glob = cross_context_loss(sg @ qg.T, tg @ qg.T, 0.1, 0.04)
    assert out['loss_global'].item() == pytest.approx(0.3 * glob.item(), rel=1e-5)
    nce = info_nce(sg, tg, sg @ qg.T, 0.2)  # the global context's InfoNCE only
    assert out['loss_nce'].item() == pytest.approx(0.7 * nce.item(), rel=1e-5)
    assert {'health/global_target_entropy', 'health/global_kl', 'health/student_global_cos',
            'health/teacher_global_cos'} <= set(out)


def test_each_teaching_on_a_hand_made_case():
    # One image, a 3-slot queue in 2-d, computed by hand: softmax targets and
    # log-softmax student scores of each pairing.
    def unit(deg):
        return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]

    queue = torch.tensor([unit(0), unit(90), unit(180)])
    sg, sh, tg, th = (torch.tensor([unit(d)]) for d in (10, 80, 30, 60))

    def ce(student_deg, teacher_deg, ts, tt):
        cos = [[math.cos(math.radians(d - q)) for q in (0, 90, 180)]
               for d in (student_deg, teacher_deg)]
        target = [math.exp(c / tt) for c in cos[1]]
        target = [t / sum(target) for t in target]
        log_z = math.log(sum(math.exp(c / ts) for c in cos[0]))
        return -sum(p * (c / ts - log_z) for p, c in zip(target, cos[0]))

    expected = {
        'cross': (ce(80, 30, 0.08, 0.04), ce(10, 60, 0.1, 0.08)),
        'same': (ce(80, 60, 0.08, 0.08), ce(10, 30, 0.1, 0.04)),
    }
    for teaching, (hyper, glob) in expected.items():
        out = head(teaching=teaching, hypercolumn_weight=1.0, global_weight=1.0).loss(
            sg, sh, tg, th, queue, queue)
        assert out['loss_hyper'].item() == pytest.approx(hyper, rel=1e-5), teaching
        assert out['loss_global'].item() == pytest.approx(glob, rel=1e-5), teaching
    out = head(teaching='global', global_weight=1.0).loss(sg, None, tg, None, queue, None)
    assert out['loss_global'].item() == pytest.approx(ce(10, 30, 0.1, 0.04), rel=1e-5)


def test_alpha_is_a_constructor_argument_and_teaching_is_checked():
    (sg, sh), (tg, th), (qg, qh) = embeddings()
    control = MODELS.build(dict(type='CrossContextHead', alpha=0.0))
    out = control.loss(sg, sh, tg, th, qg, qh)
    assert out['loss_hyper'].item() == 0 and out['loss_global'].item() == 0
    assert out['loss_nce'].item() > 0
    # the setting, the value given, the values allowed
    with raises_stating(ValueError, 'teaching', "'hyper'", "'cross'", "'same'", "'global'"):
        head(teaching='hyper')
    with raises_stating(ValueError, 'alpha', '[0, 1]', 'got 1.5'):
        MODELS.build(dict(type='CrossContextHead', alpha=1.5))


@pytest.mark.parametrize('alpha', [0.5, 1.0])
def test_autocast_gives_the_float32_targets_and_losses(alpha):
    # bfloat16 autocast around the head, on the same float32 embeddings and queues: a
    # bfloat16 relation product puts the losses ~1e-6 relative off float32.
    (sg, sh), (tg, th), (qg, qh) = embeddings(n=8, c=64, k=2048)
    expected = head(alpha).loss(sg, sh, tg, th, qg, qh)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = head(alpha).loss(sg, sh, tg, th, qg, qh)
    for key, value in expected.items():
        assert got[key].dtype == torch.float32, key
        torch.testing.assert_close(got[key], value, rtol=1e-6, atol=1e-7, msg=key)


def test_relation_health_of_one_loss_from_its_own_tensors():
    from cgh_mm.models.heads.cross_context_head import relation_health
    target = torch.softmax(torch.randn(4, 32), dim=1)
    student = F.normalize(torch.randn(4, 8), dim=1)
    teacher = student[:1].expand(4, -1)  # one image four times: collapsed
    health = relation_health('hyper', target, torch.tensor(5.0), student, teacher)
    entropy = -(target * target.log()).sum(1).mean()
    assert set(health) == {'health/hyper_target_entropy', 'health/hyper_kl',
                           'health/student_hyper_cos', 'health/teacher_hyper_cos'}
    assert health['health/hyper_target_entropy'].item() == pytest.approx(
        (entropy / math.log(32)).item(), rel=1e-5)
    assert health['health/hyper_kl'].item() == pytest.approx(5.0 - entropy.item(), rel=1e-5)
    assert health['health/teacher_hyper_cos'].item() == pytest.approx(1.0, abs=1e-6)
    assert health['health/student_hyper_cos'].item() < 1.0
