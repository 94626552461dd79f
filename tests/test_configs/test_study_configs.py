"""The study's configs (docs/study.md) differ from the demo's only where the study says."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDER = 'configs/fashion_mnist/'
DEMO = FOLDER + 'cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'
MOCO = FOLDER + 'mocov2_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'
L234 = FOLDER + 'cgh-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'


def load(name):
    return Config.fromfile(osp.join(ROOT, name))._cfg_dict.to_dict()


def differences(a, b, prefix=''):
    """Dotted keys whose values differ between two nested dicts."""
    keys = set(a) | set(b)
    out = set()
    for key in keys:
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= differences(x, y, f'{prefix}{key}.')
        elif x != y:
            out.add(f'{prefix}{key}')
    return out


SCHEDULE = {'max_epochs', 'param_scheduler', 'train_cfg.max_epochs',
            'default_hooks.checkpoint.interval'}
GLOBAL = {'model.backbone.out_indices', 'model.hypercolumn_neck', 'model.head.teaching',
          'model.head.global_weight'}
LAYER234 = {'model.backbone.out_indices', 'model.hypercolumn_neck.stage_indices',
            'model.hypercolumn_neck.in_channels'}


@pytest.mark.parametrize('name, base, expected', [
    ('cgh-same_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', DEMO, {'model.head.teaching'}),
    ('cgh-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', DEMO, LAYER234),
    ('cgh-infonce-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', L234,
     {'model.head.alpha', 'custom_hooks'}),
    ('cgh-same-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', L234,
     {'model.head.teaching'}),
    ('cgh-global_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', DEMO, GLOBAL),
    ('cgh-infonce_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py', DEMO,
     {'model.head.alpha', 'custom_hooks'}),
    ('cgh_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py', DEMO, SCHEDULE),
    ('cgh-global_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py', DEMO, SCHEDULE | GLOBAL),
    ('mocov2_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py', MOCO, SCHEDULE),
])
def test_study_config_differs_from_its_peer_only_as_declared(name, base, expected):
    cfg, peer = load(FOLDER + name), load(base)
    assert differences(cfg, peer) == expected
    if 'train_cfg.max_epochs' in expected:
        assert cfg['train_cfg']['max_epochs'] == 3 * peer['train_cfg']['max_epochs'] == 18
        warmup, cosine = cfg['param_scheduler']
        assert (warmup['end'], cosine['begin'], cosine['end'], cosine['T_max']) == (1, 1, 18, 17)
    if 'cgh-infonce' in name:
        assert cfg['custom_hooks'] == [dict(type='CGHHealthHook')]  # no alpha warm-up
    if expected == LAYER234:  # layer2 (8 x 8), layer3 (4 x 4), layer4 (2 x 2) at 32 px
        model = MODELS.build(cfg['model'])
        feats = model.backbone(torch.randn(2, 3, 32, 32))
        assert [tuple(f.shape[1:]) for f in feats] == [(32, 8, 8), (64, 4, 4), (128, 2, 2)]
        assert model.hypercolumn_neck(feats)[0].shape == (2, 128)
    if cfg['model']['type'] == 'CGH':
        model = MODELS.build(dict(cfg['model'], queue_len=128)).train()
        losses = model.loss([torch.randn(4, 3, 32, 32) for _ in range(2)], None)
        assert all(torch.isfinite(v) for v in losses.values())
