"""Extract the student (default) or teacher backbone of a CGH checkpoint.

openmmlab: ``{'state_dict': backbone, 'meta': ...}``, bare names, for ``init_cfg=dict(
type='StrictPretrained', checkpoint=OUT)`` in mmpretrain, mmdet (C4: res5 head too), mmseg.
torchvision: a ``torchvision.models.resnet*`` ``state_dict`` (lacking only ``fc.*``).
detectron2: a ``.pkl`` with detectron2 names; train with ``MODEL.WEIGHTS OUT.pkl
MODEL.RESNETS.STRIDE_IN_1X1 False INPUT.FORMAT RGB`` and ImageNet ``MODEL.PIXEL_MEAN/STD``.
The input is read with ``weights_only=True`` and never overwritten; OUT is written atomically.
"""
import argparse
import io
import os.path as osp
import pickle
import re
from typing import Dict, List, Mapping, Optional

import torch
from torch import Tensor

from cgh_mm.runtime import (
    describe_state_dict_mismatch,
    read_state_dict,
    strip_prefix,
    write_file_atomically,
)
from cgh_mm.runtime.backbone_weights import BACKBONE_PREFIXES

OUTPUT_FORMATS = ('openmmlab', 'torchvision', 'detectron2')
RESNET_DEPTHS = (18, 34, 50, 101, 152)


def torchvision_resnet_state(depth: int) -> Dict[str, Tensor]:
    """``torchvision.models.resnet{depth}().state_dict()`` without ``fc.*``, on the meta
    device (names and shapes, no memory)."""
    import torchvision

    with torch.device('meta'):
        model = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    return {k: v for k, v in model.state_dict().items() if not k.startswith('fc.')}


def to_torchvision(backbone: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """The backbone as a torchvision ResNet ``state_dict`` (no ``fc``), after checking
    its names and shapes against the torchvision ResNet whose names match best."""
    references = {depth: torchvision_resnet_state(depth) for depth in RESNET_DEPTHS}
    depth = min(RESNET_DEPTHS, key=lambda d: len(set(references[d]) ^ set(backbone)))
    mismatch = describe_state_dict_mismatch(references[depth], backbone)
    if mismatch is not None:
        raise ValueError(f'the backbone does not fit torchvision\'s resnet{depth} (the closest of '
                         f'depths {RESNET_DEPTHS}): {mismatch}. The backbone must be a plain-stem '
                         "BatchNorm ResNet of standard width (mmpretrain type='ResNet').")
    return dict(backbone)


def detectron2_name(name: str) -> str:
    """Detectron2 name of one torchvision ResNet name (``bn1.bias ->
    stem.conv1.norm.bias``, ``layer3.0.downsample.1.bias -> res4.0.shortcut.norm.bias``)."""
    stage = re.match(r'layer(\d)\.(.*)$', name)
    name = f'stem.{name}' if stage is None else f'res{int(stage[1]) + 1}.{stage[2]}'
    name = re.sub(r'\bbn(\d)\.', r'conv\1.norm.', name)
    return name.replace('downsample.0.', 'shortcut.').replace('downsample.1.', 'shortcut.norm.')


def detectron2_checkpoint(backbone: Mapping[str, Tensor]) -> Dict[str, object]:
    """What detectron2's ``DetectionCheckpointer`` reads from a ``.pkl`` file: detectron2
    names, numpy values, no ``num_batches_tracked`` (its own ``R-50.pkl`` has none)."""
    to_torchvision(backbone)  # the same architecture check and message
    model = {detectron2_name(k): v.detach().cpu().numpy()
             for k, v in backbone.items() if not k.endswith('num_batches_tracked')}
    return {'model': model, '__author__': 'cgh-mm', 'matching_heuristics': True}


def convert(checkpoint: str, output: str, teacher: bool = False, fmt: str = 'openmmlab') -> None:
    """Read ``checkpoint``, write the chosen backbone to ``output`` in format ``fmt``."""
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f'unknown output format {fmt!r}; valid formats: '
                         f'{", ".join(OUTPUT_FORMATS)}')
    if osp.exists(output) and osp.exists(checkpoint) and osp.samefile(checkpoint, output):
        raise ValueError(f'the output {output!r} is the input checkpoint {checkpoint!r}: '
                         'writing it would replace the training checkpoint by its backbone. '
                         'Give another output file, e.g. backbone.pth.')
    branch = 'teacher' if teacher else 'student'
    backbone = strip_prefix(read_state_dict(checkpoint), BACKBONE_PREFIXES[branch], checkpoint)
    if fmt == 'detectron2':
        data = pickle.dumps(detectron2_checkpoint(backbone))
    else:
        buffer = io.BytesIO()
        torch.save(to_torchvision(backbone) if fmt == 'torchvision' else {
            'state_dict': backbone,
            'meta': dict(source=osp.basename(checkpoint), branch=branch)}, buffer)
        data = buffer.getvalue()
    write_file_atomically(output, data)
    print(f'{branch} backbone ({len(backbone)} tensors) of {checkpoint} -> {output} [{fmt}]')


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Extract the backbone of a CGH checkpoint')
    parser.add_argument('checkpoint', help='CGH checkpoint (mmengine format)')
    parser.add_argument('output', help='output file (.pth, or .pkl for detectron2)')
    parser.add_argument('--teacher', action='store_true',
                        help='take the EMA teacher backbone instead of the student')
    parser.add_argument('--format', default='openmmlab',
                        help=f'output format, one of: {", ".join(OUTPUT_FORMATS)}')
    args = parser.parse_args(argv)
    try:
        convert(args.checkpoint, args.output, args.teacher, args.format)
    except (ValueError, OSError, RuntimeError, pickle.UnpicklingError) as err:
        raise SystemExit(f'cgh2backbone: {err}') from err


if __name__ == '__main__':
    main()
