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
from typing import List, Optional

import torch

from cgh_mm.utils import read_state_dict, strip_prefix, write_file_atomically
from cgh_mm.utils.backbone_weights import BACKBONE_PREFIXES
from cgh_mm.utils.checkpoint_conversion import OUTPUT_FORMATS, detectron2_checkpoint, to_torchvision


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
