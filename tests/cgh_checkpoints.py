"""Small CGH checkpoints for converter and benchmark tests (helpers, not tests)."""
from typing import Dict

import torch
import torch.nn as nn
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import cgh_mm  # noqa: F401  (registers CGH)

_WIDTH = {18: 512, 34: 512, 50: 2048}


def cgh_cfg(depth: int) -> dict:
    """A CGH around a ResNet-``depth`` backbone with tiny necks (16-d embeddings)."""
    last = _WIDTH[depth]
    return dict(
        type='CGH',
        queue_len=32,
        feat_dim=16,
        backbone=dict(type='ResNet', depth=depth, out_indices=(2, 3), norm_cfg=dict(type='BN')),
        neck=dict(type='MoCoV2Neck', in_channels=last, hid_channels=32, out_channels=16,
                  with_avg_pool=True),
        hypercolumn_neck=dict(type='HypercolumnNeck', in_channels=(last // 2, last),
                              stage_indices=(0, 1), conv_channels=32, hid_channels=32,
                              out_channels=16),
        head=dict(type='CrossContextHead'))


@torch.no_grad()
def randomize_norms_(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-default affine parameters and running statistics,
    so that a layer left at its default initialisation cannot pass for a loaded one."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
            m.num_batches_tracked.fill_(7)


def build_cgh(depth: int) -> nn.Module:
    """A CGH whose student and teacher backbones differ and have non-default norms."""
    # An earlier mmdet/mmseg Runner in this process leaves its scope as the default.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cgh_cfg(depth))
    generator = torch.Generator().manual_seed(depth)
    randomize_norms_(model.backbone, generator)
    teacher_backbone = model.teacher.module.backbone
    teacher_backbone.load_state_dict(model.backbone.state_dict())
    with torch.no_grad():
        for p in teacher_backbone.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.01)
    return model.eval()


def save_cgh_checkpoint(model: nn.Module, path: str) -> Dict[str, torch.Tensor]:
    """Write ``model`` as mmengine does (``state_dict`` + ``meta``); return the state dict."""
    state_dict = model.state_dict()
    torch.save({'state_dict': state_dict, 'meta': {}}, path)
    return state_dict
