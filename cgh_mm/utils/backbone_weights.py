"""Backbone weights out of CGH (or plain backbone) checkpoints, loaded safely."""
from typing import Dict

import torch
import torch.nn as nn

from .checkpoint import load_checkpoint_safely
from .checkpoint_conversion import BACKBONE_PREFIXES


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file, loaded with ``weights_only=True``.

    Accepts mmengine checkpoints (``{'state_dict': ...}``), ``{'model': ...}`` and
    bare state dicts.
    """
    checkpoint = load_checkpoint_safely(path)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path} holds a {type(checkpoint).__name__}, not a state_dict.')
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def backbone_state_dict(state_dict: Dict[str, torch.Tensor],
                        weights: str = 'student') -> Dict[str, torch.Tensor]:
    """Backbone weights of a CGH ``state_dict``, prefix removed.

    ``weights='student'`` takes ``backbone.*``; ``'teacher'`` takes the EMA teacher's
    ``teacher.module.backbone.*``. A state dict with neither prefix is taken as a
    plain backbone checkpoint (student only: it has no teacher).
    """
    if weights not in BACKBONE_PREFIXES:
        raise ValueError(f"weights must be one of {sorted(BACKBONE_PREFIXES)}, got {weights!r}.")
    prefix = BACKBONE_PREFIXES[weights]
    selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if selected:
        return selected
    is_cgh = any(k.startswith(p) for k in state_dict for p in BACKBONE_PREFIXES.values())
    if weights == 'teacher' or is_cgh:
        raise KeyError(f'the checkpoint has no {prefix}* keys, so no {weights} backbone. '
                       'Use a CGH training checkpoint, or --weights student for a plain '
                       'backbone checkpoint.')
    return dict(state_dict)


def load_backbone_weights(backbone: nn.Module, path: str, weights: str = 'student') -> None:
    """Load the ``weights`` backbone of checkpoint ``path`` into ``backbone`` strictly.

    Raises:
        KeyError: listing missing and unexpected keys together when they do not match.
    """
    state = backbone_state_dict(read_state_dict(path), weights)
    result = backbone.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(
            f'{path} ({weights} backbone) does not fit the backbone of the config: '
            f'missing keys {result.missing_keys}; unexpected keys {result.unexpected_keys}. '
            'Check that the config builds the same backbone (type, depth, stem) as the '
            'one that was trained.')
