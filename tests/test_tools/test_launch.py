"""tools/launch.py: what tools/train.py and tools/test.py do before building a Runner."""
import pytest
import torch
from mmengine.config import Config

from tools.launch import find_sync_bn, prepare_cpu_distributed

from .dist_helpers import TINY_CONFIG


def test_sync_bn_on_cpu_is_refused_with_the_fix(monkeypatch):
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.model.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    assert find_sync_bn(cfg) == ['model.backbone.norm_cfg.type']
    for key, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='1').items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='model.backbone.norm_cfg.type=BN'):
        prepare_cpu_distributed(cfg, 'pytorch')


def test_find_sync_bn_sees_runner_option_and_lists():
    cfg = dict(sync_bn='torch', model=dict(
        necks=[dict(norm_cfg=dict(type='BN')), dict(norm_cfg=dict(type='SyncBN'))],
        head=dict(norm_cfg=dict(type='SyncBatchNorm'))))
    assert find_sync_bn(cfg) == ['sync_bn', 'model.necks.1.norm_cfg.type',
                                 'model.head.norm_cfg.type']
    assert find_sync_bn(dict(model=dict(norm_cfg=dict(type='BN')))) == []
