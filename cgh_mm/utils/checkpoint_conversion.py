"""A CGH backbone (mmpretrain ``ResNet``, torchvision's names) for torchvision and detectron2."""
import re
from typing import Dict, Mapping

import torch
from torch import Tensor

from .checkpoint import describe_state_dict_mismatch

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

