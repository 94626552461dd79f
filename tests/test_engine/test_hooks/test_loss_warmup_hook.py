from types import SimpleNamespace

import pytest
import torch
from mmpretrain.registry import HOOKS, MODELS


def fake_runner(model, iteration, iters_per_epoch=10, batch_size=4):
    loader = type('Loader', (), dict(batch_size=batch_size,
                                     __len__=lambda self: iters_per_epoch))()
    return SimpleNamespace(model=model, iter=iteration, train_dataloader=loader)


@pytest.mark.parametrize('iteration,alpha', [(0, 0.0), (10, 0.5), (19, 0.95), (20, 1.0),
                                              (500, 1.0)])
def test_alpha_and_term_weights(tiny_cgh_cfg, iteration, alpha):
    model = MODELS.build(tiny_cgh_cfg)
    hook = HOOKS.build(dict(type='CGHLossWarmupHook', warmup_epochs=2))
    hook.before_train_iter(fake_runner(model, iteration), 0)
    assert model.alpha.item() == pytest.approx(alpha)

    # the weights the three terms get at that point
    head = model.head
    g = torch.nn.functional.normalize(torch.randn(4, 32), dim=1)
    q = torch.nn.functional.normalize(torch.randn(64, 32), dim=1)  # (K, C)
    raw = head.loss(g, g, g.flip(0), g.flip(0), q, q, alpha=0.5)
    out = head.loss(g, g, g.flip(0), g.flip(0), q, q, alpha=model.alpha.item())
    assert out['loss_nce'].item() == pytest.approx(raw['loss_nce'].item() / 0.5 * (1 - alpha),
                                                   rel=1e-5, abs=1e-7)
    for key in ('loss_hyper', 'loss_global'):
        assert out[key].item() == pytest.approx(raw[key].item() / 0.5 * alpha, rel=1e-5,
                                                abs=1e-7)


def test_alpha_depends_only_on_the_iteration(tiny_cgh_cfg):
    model = MODELS.build(tiny_cgh_cfg)
    hook = HOOKS.build(dict(type='CGHLossWarmupHook', warmup_iters=8))
    for it in (5, 1, 7, 3):  # any order, as after a resume
        hook.before_train_iter(fake_runner(model, it), 0)
        assert model.alpha.item() == pytest.approx(it / 8)


def test_before_train_rejects_a_queue_that_does_not_fit(tiny_cgh_cfg):
    model = MODELS.build(tiny_cgh_cfg)  # queue_len 64
    hook = HOOKS.build(dict(type='CGHLossWarmupHook'))
    hook.before_train(fake_runner(model, 0, batch_size=16))
    with pytest.raises(ValueError, match='queue_len=64 is not a multiple'):
        hook.before_train(fake_runner(model, 0, batch_size=24))
