"""Helpers shared by tests: tiny CGH checkpoints, tools run as commands."""
import contextlib
import copy
import io
import runpy
import sys

import torch
from mmpretrain.registry import MODELS


def save_tiny_cgh_checkpoint(cgh_cfg: dict, path, backbone_type: str = 'ResNet') -> dict:
    """Build a tiny CGH, make its teacher differ from its student, save it.

    Returns the saved ``state_dict``.
    """
    cfg = copy.deepcopy(cgh_cfg)
    cfg['backbone']['type'] = backbone_type
    model = MODELS.build(cfg)
    with torch.no_grad():
        # A trained teacher lags the student: shift it so the two are told apart.
        for p in model.teacher.module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(dict(meta=dict(epoch=1), state_dict=state), str(path))
    return state


def run_tool(script: str, *args) -> str:
    """Run a tool's command line in this process (no second interpreter start-up).

    Returns what it printed.
    """
    argv, sys.argv = sys.argv, [script, *map(str, args)]
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            runpy.run_path(script, run_name='__main__')
    finally:
        sys.argv = argv
    return stdout.getvalue()
