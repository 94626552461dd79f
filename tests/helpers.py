"""What tests share: the one tiny CGH, its checkpoints and runs, tools run in-process,
errors checked for the facts they state."""
import contextlib
import importlib.util
import io
import os.path as osp
import runpy
import sys
import uuid
from types import ModuleType
from typing import Dict, Optional

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

SYNTHETIC_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'cgh',
                            'cgh_resnet18_1xb16-2e_synthetic.py')


def tiny_cgh_cfg(depth: int = 18, base_channels: int = 64, queue_len: int = 64,
                 feat_dim: int = 32, backbone_type: str = 'ResNet') -> dict:
    """The tests' CGH: a ResNet-``depth`` (``base_channels`` wide; 64 is the standard
    width) returning layer3 and layer4, 64-wide necks, ``feat_dim``-d embeddings."""
    last = base_channels * 8 * (4 if depth >= 50 else 1)
    return dict(
        type='CGH', queue_len=queue_len, feat_dim=feat_dim, teacher_momentum=0.99,
        backbone=dict(type=backbone_type, depth=depth, stem_channels=base_channels,
                      base_channels=base_channels, out_indices=(2, 3), norm_cfg=dict(type='BN')),
        neck=dict(type='MoCoV2Neck', in_channels=last, hid_channels=64, out_channels=feat_dim,
                  with_avg_pool=True),
        hypercolumn_neck=dict(type='HypercolumnNeck', in_channels=(last // 2, last),
                              stage_indices=(0, 1), conv_channels=64, hid_channels=64,
                              out_channels=feat_dim),
        head=dict(type='CrossContextHead'))


# The narrow variant as --cfg-options of tools/train.py on the synthetic config.
NARROW = tiny_cgh_cfg(base_channels=16)
NARROW_OPTIONS = [
    f'model.backbone.base_channels={NARROW["backbone"]["base_channels"]}',
    f'model.backbone.stem_channels={NARROW["backbone"]["stem_channels"]}',
    f'model.neck.in_channels={NARROW["neck"]["in_channels"]}',
    'model.hypercolumn_neck.in_channels=({},{})'.format(
        *NARROW['hypercolumn_neck']['in_channels']),
]


def tiny_runner_cfg(work_dir, max_epochs: int) -> Config:
    """The synthetic config with the narrow tiny CGH, 2 iterations per epoch, a warm-up
    of 8 iterations (a queue refill takes 128 / 16 = 8) and a log line per iteration."""
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.work_dir = str(work_dir)
    # unique: mmengine keys its logger and visualizer by experiment name
    cfg.experiment_name = f'test_{uuid.uuid4().hex}'
    cfg.model = dict(cfg.model, **tiny_cgh_cfg(base_channels=16, queue_len=128))
    cfg.train_cfg.max_epochs = max_epochs
    cfg.train_dataloader.dataset.num_images = 32
    cfg.custom_hooks = [
        dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=4),
        dict(type='CGHHealthHook')
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    return cfg


@torch.no_grad()
def randomize_norms_(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-default affine parameters and running statistics, so that
    a layer left at its default initialisation cannot pass for a loaded one."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
            m.num_batches_tracked.fill_(7)


def build_cgh(depth: int = 18, **kwargs) -> nn.Module:
    """A tiny CGH whose teacher differs from its student and whose norms are not the
    default ones (a trained teacher lags the student: the two must be told apart)."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # mmdet/mmseg tests change it
        model = MODELS.build(tiny_cgh_cfg(depth, **kwargs))
    generator = torch.Generator().manual_seed(depth)
    randomize_norms_(model.backbone, generator)
    model.teacher.module.load_state_dict(model._student().state_dict())
    with torch.no_grad():
        for p in model.teacher.module.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.01)
    return model.eval()


def save_cgh_checkpoint(model: nn.Module, path) -> Dict[str, torch.Tensor]:
    """Write ``model`` as mmengine does (``state_dict`` + ``meta``); return the state."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), str(path))
    return state


def save_tiny_cgh_checkpoint(path, depth: int = 18, **kwargs) -> Dict[str, torch.Tensor]:
    """``save_cgh_checkpoint(build_cgh(depth, **kwargs), path)``."""
    return save_cgh_checkpoint(build_cgh(depth, **kwargs), path)


@contextlib.contextmanager
def raises_stating(error, *facts):
    """``pytest.raises(error)`` whose message states every one of ``facts`` (the numbers,
    names, paths and fix a user needs, each a plain substring), however it is worded."""
    with pytest.raises(error) as info:
        yield info
    message = str(info.value)
    missing = [str(fact) for fact in facts if str(fact) not in message]
    assert not missing, f'the {type(info.value).__name__} does not state {missing}: {message}'


@contextlib.contextmanager
def script_folder_on_path(script: str):
    """``sys.path`` as ``python script`` starts with it: the script's folder first, so that
    the tools' own modules (``tools/launch.py``, ...) import as they do from the shell."""
    sys.path.insert(0, osp.dirname(osp.abspath(str(script))))
    try:
        yield
    finally:
        sys.path.pop(0)


def load_tool(script: str, name: Optional[str] = None) -> ModuleType:
    """A tool script imported as module ``name`` (default: its file name; its ``main``
    not run)."""
    name = name or osp.splitext(osp.basename(str(script)))[0]
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    with script_folder_on_path(script):
        spec.loader.exec_module(module)
    return module


def run_tool(script: str, *args) -> str:
    """Run a tool's command line in this process (no interpreter start-up); its output."""
    argv, sys.argv = sys.argv, [script, *map(str, args)]
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), script_folder_on_path(script):
            runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = argv
    return stdout.getvalue()
