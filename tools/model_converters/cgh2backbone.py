"""Extract the student (default) or teacher backbone of a CGH checkpoint.

    python tools/model_converters/cgh2backbone.py CGH_CKPT OUT [--teacher] \
        [--format openmmlab|torchvision|detectron2]

openmmlab (default)
    ``{'state_dict': backbone, 'meta': ...}`` with bare names (``conv1.weight``).
    Load it with ``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` on the
    backbone (mmpretrain, mmdet, mmseg ``ResNet``) and on mmdet's C4 shared head
    (its stage is named ``layer4`` too, so res5 loads from the same file).
torchvision
    a plain ``state_dict`` for ``torchvision.models.resnet*(...)``
    (``load_state_dict(..., strict=False)`` misses only ``fc.*``).
detectron2
    a pickle ``{'model': {name: ndarray}, '__author__': ..., 'matching_heuristics': True}``
    with detectron2 names; train with ``MODEL.WEIGHTS OUT.pkl`` and, as for any
    torchvision-style ResNet, ``MODEL.RESNETS.STRIDE_IN_1X1 False``,
    ``INPUT.FORMAT RGB`` and the ImageNet ``MODEL.PIXEL_MEAN``/``PIXEL_STD``
    (MoCo's ``*_moco.yaml`` detection configs do exactly this).

The input is read with ``torch.load(weights_only=True)``: tensors and the
mmengine bookkeeping classes only, never arbitrary pickled code.
"""
import argparse
import os
import os.path as osp
import pickle
from typing import List, Optional

import torch

from cgh_mm.utils import load_checkpoint_safely
from cgh_mm.utils.checkpoint_conversion import (
    OUTPUT_FORMATS,
    check_output_format,
    detectron2_checkpoint,
    extract_backbone,
    to_torchvision,
    unwrap_state_dict,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the backbone of a CGH checkpoint for downstream training')
    parser.add_argument('checkpoint', help='CGH checkpoint (mmengine format)')
    parser.add_argument('output', help='output file (.pth, or .pkl for detectron2)')
    parser.add_argument('--teacher', action='store_true',
                        help='take the EMA teacher backbone instead of the student')
    # Checked by check_output_format, so the message is the same as the API's.
    parser.add_argument('--format', default='openmmlab',
                        help=f'output format, one of: {", ".join(OUTPUT_FORMATS)}')
    return parser.parse_args(argv)


def convert(checkpoint: str, output: str, teacher: bool = False,
            fmt: str = 'openmmlab') -> None:
    """Read ``checkpoint``, write the chosen backbone to ``output`` in format ``fmt``."""
    check_output_format(fmt)
    loaded = load_checkpoint_safely(checkpoint)
    backbone = extract_backbone(unwrap_state_dict(loaded), teacher=teacher)
    branch = 'teacher' if teacher else 'student'

    if osp.dirname(output):
        os.makedirs(osp.dirname(output), exist_ok=True)
    if fmt == 'openmmlab':
        torch.save({'state_dict': backbone,
                    'meta': dict(source=osp.basename(checkpoint), branch=branch)}, output)
    elif fmt == 'torchvision':
        torch.save(to_torchvision(backbone), output)
    else:
        with open(output, 'wb') as f:
            pickle.dump(detectron2_checkpoint(backbone), f)
    print(f'{branch} backbone ({len(backbone)} tensors) of {checkpoint} -> {output} [{fmt}]')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        convert(args.checkpoint, args.output, args.teacher, args.format)
    except ValueError as err:
        raise SystemExit(f'cgh2backbone: {err}') from err


if __name__ == '__main__':
    main()
