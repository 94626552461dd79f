import copy

import pytest
import torch

import cgh_mm  # noqa: F401  (registers the modules)

TINY_CGH = dict(
    type='CGH',
    queue_len=64,
    feat_dim=32,
    teacher_momentum=0.99,
    backbone=dict(type='ResNet', depth=18, out_indices=(2, 3), norm_cfg=dict(type='BN')),
    neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=64, out_channels=32,
              with_avg_pool=True),
    hypercolumn_neck=dict(type='HypercolumnNeck', in_channels=(256, 512),
                          stage_indices=(0, 1), conv_channels=64, hid_channels=64,
                          out_channels=32),
    head=dict(type='CrossContextHead'),
)


@pytest.fixture
def tiny_cgh_cfg():
    """Config dict of a small CGH (ResNet-18, 32-d embeddings, queue of 64)."""
    return copy.deepcopy(TINY_CGH)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
