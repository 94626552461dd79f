"""What tests share: the one tiny CGH, its checkpoints and runs, scalar logs of runs, tools
run in-process, errors checked for the facts they state, kernel counts and host syncs of a
step."""
import contextlib
import copy
import importlib.util
import io
import json
import os.path as osp
import runpy
import sys
import traceback
import uuid
from collections import Counter
from types import ModuleType
from typing import Dict, List, Optional

import pytest
import torch
import torch.nn as nn
import torch.utils._pytree as pytree
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils._python_dispatch import TorchDispatchMode

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
SYNTHETIC_CONFIG = osp.join(REPO, 'configs', 'cgh', 'cgh_resnet18_1xb16-2e_synthetic.py')


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


def runner_without_config(cfg: Config, **arguments):
    """``Runner(...)`` given what ``Runner.from_cfg(cfg)`` would pass it (``arguments``
    replacing it) but not the config itself, as a script builds one: its ``cfg`` is empty."""
    import inspect

    from mmengine.runner import Runner
    names = set(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'}
    given = {name: copy.deepcopy(cfg[name]) for name in names if name in cfg}
    return Runner(**dict(given, **arguments))


def write_scalars(work_dir, contexts=('hyper', 'global')) -> str:
    """A CGH run's ``<work_dir>/20260101_000000/vis_data/scalars.json``: 5 train records
    (``loss_nce`` and ``loss_<context>``, ``alpha`` 0 to 1, the ``health/*`` keys that
    ``CrossContextHead`` logs per context) and 2 kNN records; its path. ``contexts``:
    ``('global',)`` for a run with ``teaching='global'``."""
    from cgh_mm.models.heads.cross_context_head import relation_health

    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    tensor = torch.eye(2)
    health = [key for context in contexts
              for key in relation_health(context, tensor, tensor[0, 0], tensor, tensor)]
    records = [dict(lr=0.1, loss_nce=5.0 - i, alpha=i / 4, step=i + 1,
                    **{f'loss_{c}': (0.1 if c == 'hyper' else 0.2) * i for c in contexts},
                    **{k: 0.5 + 0.1 * i for k in health})
               for i in range(5)]
    records.insert(3, {'knn/top1': 40.0, 'step': 1})
    records.append({'knn/top1': 55.5, 'step': 2})
    path = vis / 'scalars.json'
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    return str(path)


def write_run_part(work_dir, stamp, train_steps, val_after=(), resumed_from=None, tail=''):
    """One start of a run: ``<stamp>/vis_data/scalars.json`` with a train record per step
    (2 iterations per epoch) and a kNN record after each step in ``val_after``, and the
    start's log, with mmengine's line if it resumed."""
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    lines = []
    for step in train_steps:
        lines.append(json.dumps(dict(lr=0.1, loss_nce=1.0 / step, alpha=1.0, step=step)))
        if step in val_after:
            lines.append(json.dumps({'knn/top1': 10.0 * step, 'step': step // 2}))
    (vis / 'scalars.json').write_text('\n'.join(lines) + '\n' + tail)
    log = '2026/01/01 00:00:00 - mmengine - INFO - Checkpoints will be saved to ...\n'
    if resumed_from is not None:
        log += (f'2026/01/01 00:00:01 - mmengine - INFO - resumed epoch: {resumed_from // 2}, '
                f'iter: {resumed_from}\n')
    (work_dir / stamp / f'{stamp}.log').write_text(log)


def write_resumed_run(work_dir):
    """Killed at iteration 7 (mid-write), resumed from the epoch-2 checkpoint (iteration 4),
    then finished at 10; then a test run in the same work dir. The killed part logged
    epoch 3's kNN, which the resumed part computed again."""
    write_run_part(work_dir, '20260101_000000', range(1, 8), val_after=(2, 4, 6),
                   tail='{"lr": 0.1, "loss_nce": 0.1')
    write_run_part(work_dir, '20260101_010000', range(5, 11), val_after=(6, 8, 10),
                   resumed_from=4)
    test = work_dir / '20260101_020000' / 'vis_data'
    test.mkdir(parents=True)
    (test / 'scalars.json').write_text(json.dumps({'knn/top1': 99.0, 'step': 0}) + '\n')
    return work_dir


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


def load_tool(script: str, name: Optional[str] = None) -> ModuleType:
    """A tool script loaded from its file as module ``name`` (default: its file name),
    ``sys.path`` untouched; its ``main`` not run."""
    name = name or osp.splitext(osp.basename(str(script)))[0]
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(script: str, *args) -> str:
    """Run a tool's command line in this process (no interpreter start-up), ``sys.path``
    untouched; its output."""
    argv, sys.argv = sys.argv, [script, *map(str, args)]
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = argv
    return stdout.getvalue()


class CountOps(TorchDispatchMode):
    """Counts the aten ops that launch a kernel (views and metadata ops are not counted)
    and touch an image-like tensor, by name (``counts``): one of at least 3 dimensions
    and ``min_numel`` elements (for images, one channel: ``H * W``)."""

    def __init__(self, min_numel: int) -> None:
        super().__init__()
        self.min_numel = min_numel
        self.counts: Counter = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        sizes = [t.numel() for t in pytree.tree_leaves((args, kwargs, out))
                 if isinstance(t, torch.Tensor) and t.dim() >= 3]
        if not func.is_view and sizes and max(sizes) >= self.min_numel:
            self.counts[func.__name__] += 1
        return out


# Ops whose result (or output size) depends on tensor values: on a device, the host
# waits for them. Plain names: every overload.
_VALUE_READS = {'_local_scalar_dense', 'nonzero', 'masked_select', 'unique', '_unique',
                '_unique2', 'unique_dim', 'unique_consecutive', 'equal', 'is_nonzero',
                'repeat_interleave', 'masked_scatter', 'bincount', 'histc'}


class HostSyncs(TorchDispatchMode):
    """Records the ops that make the host wait for a CUDA device, each with where it was
    called (``found``; ``armed=False`` skips recording): a read of a device value
    (``.item()``, ``int()``/``bool()``/``float()`` or ``.tolist()`` of a tensor,
    ``aten._local_scalar_dense``), ops whose output size depends on device values
    (``nonzero``, boolean-mask indexing, ``unique``, ...), copies from the device to the
    host, blocking copies from the host to the device (CUDA waits for the stream before
    them: ``.to(device)`` without ``non_blocking``, ``torch.tensor(..., device=...)``),
    and host tensors (not 0-dim scalars) given to device ops, which copy them over the
    same way (indexing with a Python list or a CPU index tensor).

    Also lists the shapes of all host-to-device copies (``host_to_device``).

    Runs under torch's ``FakeTensorMode`` with ``device='cuda'`` on a CPU-only machine;
    a value read of a fake tensor, which has no value, returns 0 there so that the trace
    goes on after a recorded sync.
    """

    def __init__(self) -> None:
        super().__init__()
        self.armed = True
        self.found: List[str] = []
        self.host_to_device: List[tuple] = []

    def report(self) -> str:
        return '\n'.join(self.found)

    def _record(self, what: str) -> None:
        if self.armed:
            here = [f'{osp.relpath(f.filename)}:{f.lineno} {f.name}'
                    for f in traceback.extract_stack()[:-3]
                    if not any(part in f.filename for part in _NOT_CALLERS)]
            self.found.append(f'{what} at {" <- ".join(reversed(here[-4:]))}')

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        on_device = [t for t in tensors if t.device.type == 'cuda']
        name = func.__name__.split('.')[0]
        if func in (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default):
            src, dst = (args[0], kwargs.get('device') or args[0].device) \
                if func is torch.ops.aten._to_copy.default else (args[1], args[0].device)
            non_blocking = kwargs.get('non_blocking', args[2] if len(args) > 2 else False)
            if src.device.type == 'cuda' and torch.device(dst).type == 'cpu':
                self._record(f'{func.__name__}: device-to-host copy')
            elif src.device.type == 'cpu' and torch.device(dst).type == 'cuda':
                if self.armed:
                    self.host_to_device.append(tuple(src.shape))
                if not non_blocking:
                    self._record(f'{func.__name__}: blocking host-to-device copy '
                                 f'{tuple(src.shape)}')
        elif on_device and name in _VALUE_READS:
            self._record(f'{func.__name__}: reads device values')
        elif on_device and name in ('index', 'index_put', 'index_put_') and any(
                t.dtype in (torch.bool, torch.uint8) for t in tensors[1:]):
            self._record(f'{func.__name__}: boolean-mask indexing')
        elif on_device and any(t.device.type == 'cpu' and t.dim() > 0 for t in tensors):
            self._record(f'{func.__name__}: host tensor in a device op (blocking copy)')
        if name == '_local_scalar_dense' and isinstance(args[0], FakeTensor):
            return 0
        return func(*args, **kwargs)


# frames that are not the caller of an op: torch's dispatch machinery and this file
_NOT_CALLERS = ('torch/utils/_python_dispatch', 'torch/_subclasses', 'torch/_ops.py',
                'torch/_compile.py', 'torch/_dynamo',
                'torch/_tensor.py', 'torch/overrides.py', 'tests/helpers.py')
