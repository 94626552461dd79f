"""Settings that make the tiny CGH config cheap enough for many test runs."""
from typing import List

from tests.test_runner.test_runner_resume import tiny_cfg

# ResNet-18 at a quarter of its width: 11 MB checkpoints instead of 140 MB.
SMALL_BACKBONE = {
    'model.backbone.base_channels': 16,
    'model.backbone.stem_channels': 16,
    'model.neck.in_channels': 128,
    'model.hypercolumn_neck.in_channels': (64, 128),
}


def small_cfg(work_dir, max_epochs: int):
    """``tiny_cfg`` (2 iterations per epoch) with the narrow backbone."""
    cfg = tiny_cfg(work_dir, max_epochs)
    cfg.merge_from_dict(SMALL_BACKBONE)
    return cfg


def small_backbone_options() -> List[str]:
    """``SMALL_BACKBONE`` as ``--cfg-options`` arguments of tools/train.py."""
    return [f'{key}={value}'.replace(' ', '') for key, value in SMALL_BACKBONE.items()]
