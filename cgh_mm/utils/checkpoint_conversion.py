"""Key mapping from a CGH checkpoint to downstream backbone formats.

A CGH checkpoint holds the student backbone under ``backbone.`` and the EMA
teacher's under ``teacher.module.backbone.``; both are mmpretrain ``ResNet``s
whose parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ...). Three outputs are supported:

* ``openmmlab``: the bare backbone ``state_dict`` (``conv1.weight``, ...) wrapped
  as ``{'state_dict': ..., 'meta': ...}``. ``init_cfg=dict(type='Pretrained',
  checkpoint=...)`` loads it into mmpretrain/mmdet/mmseg ``ResNet`` backbones and,
  unchanged, into mmdet's C4 shared head, whose single stage is also named
  ``layer4``.
* ``torchvision``: the same names, checked against ``torchvision.models.resnet*``
  (only ``fc.*`` is absent).
* ``detectron2``: detectron2 names (``stem.conv1.norm.weight``,
  ``res2.0.shortcut.weight``, ...) with numpy values, for its pickle format.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import torch

BACKBONE_PREFIXES = dict(student='backbone.', teacher='teacher.module.backbone.')
OUTPUT_FORMATS = ('openmmlab', 'torchvision', 'detectron2')

# depth -> (bottleneck?, blocks per stage), as torchvision.models.resnet.
_RESNET_ARCHS: Dict[int, Tuple[bool, Tuple[int, int, int, int]]] = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}
_BN_ENTRIES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def unwrap_state_dict(checkpoint: object) -> Mapping[str, torch.Tensor]:
    """The ``state_dict`` of an mmengine checkpoint, or the mapping itself if bare."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'expected a checkpoint dict, got {type(checkpoint).__name__}; '
                         'pass a file written by the CGH training (tools/train.py).')
    if 'state_dict' in checkpoint and isinstance(checkpoint['state_dict'], Mapping):
        return checkpoint['state_dict']
    return checkpoint


def extract_backbone(state_dict: Mapping[str, torch.Tensor],
                     teacher: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Backbone weights of the student (default) or the teacher, prefix stripped.

    Raises:
        ValueError: when the checkpoint has no such backbone (e.g. not a CGH
            checkpoint, or ``teacher=True`` on a file without a teacher).
    """
    prefix = BACKBONE_PREFIXES['teacher' if teacher else 'student']
    backbone = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                           if k.startswith(prefix))
    if not backbone:
        roots = sorted({k.split('.', 1)[0] for k in state_dict})
        raise ValueError(
            f'no key starts with {prefix!r}; top-level names in the checkpoint: {roots}. '
            'Pass a CGH checkpoint (model state_dict under "state_dict"), and drop '
            '--teacher if the file has no teacher.')
    return backbone


def resnet_depth_of(backbone: Mapping[str, torch.Tensor]) -> int:
    """Depth (18, 34, 50, 101, 152) of a torchvision-named ResNet ``state_dict``."""
    blocks = []
    for stage in range(1, 5):
        ids = {int(m.group(1)) for k in backbone
               for m in [re.match(rf'layer{stage}\.(\d+)\.', k)] if m}
        blocks.append(max(ids) + 1 if ids else 0)
    bottleneck = any(k.endswith('.conv3.weight') for k in backbone)
    for depth, arch in _RESNET_ARCHS.items():
        if arch == (bottleneck, tuple(blocks)):
            return depth
    raise ValueError(
        f'the backbone is not a torchvision-layout ResNet: blocks per stage {blocks}, '
        f'bottleneck={bottleneck}. Supported depths: {sorted(_RESNET_ARCHS)} with '
        'plain-stem ResNet (type="ResNet", not ResNetV1c/V1d).')


def resnet_state_names(depth: int) -> List[str]:
    """Every ``state_dict`` name of ``torchvision.models.resnet{depth}()`` except ``fc.*``."""
    if depth not in _RESNET_ARCHS:
        raise ValueError(f'unsupported ResNet depth {depth}; use one of {sorted(_RESNET_ARCHS)}')
    bottleneck, blocks = _RESNET_ARCHS[depth]
    convs = 3 if bottleneck else 2

    def conv_bn(conv: str, bn: str) -> List[str]:
        return [f'{conv}.weight'] + [f'{bn}.{e}' for e in _BN_ENTRIES]

    names = conv_bn('conv1', 'bn1')
    for stage, num_blocks in enumerate(blocks, start=1):
        for block in range(num_blocks):
            base = f'layer{stage}.{block}'
            for i in range(1, convs + 1):
                names += conv_bn(f'{base}.conv{i}', f'{base}.bn{i}')
            # First block of a stage changes width (bottleneck) or stride (stages 2-4).
            if block == 0 and (bottleneck or stage > 1):
                names += conv_bn(f'{base}.downsample.0', f'{base}.downsample.1')
    return names


def check_keys(actual: Sequence[str], expected: Sequence[str], what: str) -> None:
    """Raise one ``ValueError`` listing both missing and unexpected keys, if any."""
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f'{what}: {len(missing)} missing key(s) {missing[:20]}'
            f'{" ..." if len(missing) > 20 else ""} and {len(unexpected)} unexpected '
            f'key(s) {unexpected[:20]}{" ..." if len(unexpected) > 20 else ""}. The backbone '
            'must be a plain-stem BatchNorm ResNet (mmpretrain type="ResNet").')


def to_torchvision(backbone: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """A torchvision ResNet ``state_dict`` (no ``fc``): names are already torchvision's,
    so this only checks them against the architecture and copies."""
    check_keys(list(backbone), resnet_state_names(resnet_depth_of(backbone)),
               'torchvision export')
    return OrderedDict((k, v.clone()) for k, v in backbone.items())


def detectron2_name(name: str) -> str:
    """Detectron2 name of one torchvision ResNet name.

    ``conv1.weight -> stem.conv1.weight``, ``bn1.bias -> stem.conv1.norm.bias``,
    ``layer1.0.bn2.weight -> res2.0.conv2.norm.weight``,
    ``layer3.0.downsample.0.weight -> res4.0.shortcut.weight``,
    ``layer3.0.downsample.1.bias -> res4.0.shortcut.norm.bias``.
    """
    stage = re.match(r'layer(\d)\.(.*)$', name)
    if stage is None:
        name = f'stem.{name}'
    else:
        name = f'res{int(stage.group(1)) + 1}.{stage.group(2)}'
    name = re.sub(r'\bbn(\d)\.', r'conv\1.norm.', name)
    name = name.replace('downsample.0.', 'shortcut.').replace('downsample.1.', 'shortcut.norm.')
    return name


def to_detectron2(backbone: Mapping[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    """Detectron2 ``model`` dict: detectron2 names, float numpy arrays.

    ``num_batches_tracked`` is dropped: detectron2's ResNet norms do not use it
    (its own ImageNet ``R-50.pkl`` has none).
    """
    to_torchvision(backbone)  # same architecture check, same error message
    return {detectron2_name(k): v.detach().cpu().numpy()
            for k, v in backbone.items() if not k.endswith('num_batches_tracked')}


def detectron2_checkpoint(backbone: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """What detectron2's ``DetectionCheckpointer`` reads from a ``.pkl`` file."""
    return {'model': to_detectron2(backbone), '__author__': 'cgh-mm',
            'matching_heuristics': True}


def check_output_format(fmt: str) -> None:
    """Raise a ``ValueError`` naming the valid formats unless ``fmt`` is one."""
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f'unknown output format {fmt!r}; valid formats: '
                         f'{", ".join(OUTPUT_FORMATS)}')
