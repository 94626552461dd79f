"""The one reader of backbone weights, for every tool and initialiser of the package."""
from typing import Any, Dict, Sequence

import torch.nn as nn
from torch import Tensor

from .checkpoint import describe_state_dict_mismatch, load_checkpoint_safely

BACKBONE_PREFIXES = dict(student='backbone.', teacher='teacher.module.backbone.')
_LAYOUT = ("A CGH checkpoint holds the student backbone under 'backbone.' and the EMA "
           "teacher's under 'teacher.module.backbone.'; a backbone file of "
           'tools/model_converters/cgh2backbone.py has bare names (conv1.weight, ...).')


def state_dict_of(checkpoint: Any, path: str) -> Dict[str, Tensor]:
    """The ``state_dict`` (mmengine) or ``model`` entry of a loaded checkpoint, else
    the checkpoint itself (a bare state dict)."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path!r} holds a {type(checkpoint).__name__}, not a dict of '
                         f'weights. {_LAYOUT}')
    return next((checkpoint[k] for k in ('state_dict', 'model')
                 if isinstance(checkpoint.get(k), dict)), checkpoint)


def read_state_dict(path: str, map_location: Any = 'cpu') -> Dict[str, Tensor]:
    return state_dict_of(load_checkpoint_safely(path, map_location), path)


def strip_prefix(state_dict: Dict[str, Tensor], prefix: str, path: str,
                 allow_plain: bool = False) -> Dict[str, Tensor]:
    """The entries under ``prefix``, prefix removed. With ``allow_plain``, a state dict
    with no ``backbone.*`` key is returned whole (a plain backbone: the student)."""
    if allow_plain and prefix == BACKBONE_PREFIXES['student'] and not any(
            k.startswith(prefix) for k in state_dict):
        return dict(state_dict)
    selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not selected:
        roots = sorted({k.split('.', 1)[0] for k in state_dict})
        raise ValueError(f'{path!r}: no key starts with {prefix!r}; top-level names in the '
                         f'checkpoint: {roots}. {_LAYOUT}')
    return selected


def load_state_dict_strictly(module: nn.Module, state_dict: Dict[str, Tensor], source: str,
                             hint: str, ignore_missing: Sequence[str] = (),
                             ignore_unexpected: Sequence[str] = ()) -> int:
    """Load ``state_dict`` into ``module``, or raise one ``ValueError`` listing the missing,
    unexpected and mis-shaped keys (not under the ``ignore_*`` prefixes, see
    :class:`StrictPretrainedInit`), then ``hint``. Returns the number loaded."""
    expected = {k: v for k, v in module.state_dict().items()
                if k in state_dict or not k.startswith(tuple(ignore_missing))}
    given = {k: v for k, v in state_dict.items()
             if k in expected or not k.startswith(tuple(ignore_unexpected))}
    mismatch = describe_state_dict_mismatch(expected, given)
    if mismatch is not None:
        raise ValueError(f'{source} does not fit {type(module).__name__}: {mismatch}. {hint}')
    module.load_state_dict(given, strict=False)
    return len(given)


def load_backbone_weights(backbone: nn.Module, path: str, weights: str = 'student') -> None:
    """Load the ``weights`` ('student' or 'teacher') backbone of a CGH checkpoint, or a
    plain backbone file, into ``backbone`` strictly."""
    state = strip_prefix(read_state_dict(path), BACKBONE_PREFIXES[weights], path, True)
    load_state_dict_strictly(
        backbone, state, f'{path!r} ({weights} backbone)',
        'Check that the config builds the backbone that was trained (type, depth, width '
        "and stem: CGH trains a plain-stem type='ResNet', not ResNetV1c).")
