import logging
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..checkpoint import resume_of
from .checkpoint_schedule import may_save_after_iter


def capture_random_state(
        generators: Optional[Dict[str, torch.Generator]] = None) -> Dict[str, Any]:
    """Python's, numpy's and torch's (CPU and CUDA) generator states, plus those of
    ``generators`` (by name) if given. A checkpoint holding them loads with
    ``weights_only=True``: numpy's arrays are allow-listed by ``CheckpointGlobalsHook``
    (``runtime/safe_loading.py``), the rest are tuples, numbers and tensors."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    if generators:
        state['generators'] = {name: gen.get_state() for name, gen in generators.items()}
    return state


def restore_random_state(state: Dict[str, Any],
                         generators: Optional[Dict[str, torch.Generator]] = None) -> None:
    """Inverse of :func:`capture_random_state`. Each of ``generators`` gets the
    state saved under its name; one the state lacks is left alone, with a warning."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    saved = state.get('generators', {})
    for name, gen in (generators or {}).items():
        if name in saved:
            gen.set_state(saved[name])
        else:
            print_log(f'RandomStateHook: the checkpoint holds no state for the generator of '
                      f'`{name}`; it goes on from its seed, so the resumed run will not repeat '
                      'the interrupted one exactly.', logger='current', level=logging.WARNING)


def module_generators(model: Optional[nn.Module]) -> Dict[str, torch.Generator]:
    """The private ``torch.Generator`` of each submodule that keeps one as its
    ``generator`` attribute (e.g. ``ViewAugmentDataPreprocessor``), by module name."""
    if model is None:
        return {}
    model = model.module if is_model_wrapper(model) else model
    return {name or '(model)': module.generator
            for name, module in model.named_modules()
            if isinstance(getattr(module, 'generator', None), torch.Generator)}


@HOOKS.register_module()
class RandomStateHook(Hook):
    """A resumed run repeats the interrupted one exactly: every rank's random generators
    are saved in checkpoints and restored on resume, and validation does not draw on them.

    mmengine re-seeds from ``randomness.seed`` when it resumes, so augmentations
    and random ops after a resume differ from those of an uninterrupted run. This
    hook stores python's, numpy's and torch's (CPU and CUDA) generator states, and
    the private generators of the model's modules (:func:`module_generators`), of
    every rank under ``checkpoint['random_state']`` and puts them back just
    before training continues (after mmengine's re-seeding). Plain ``load_from``
    leaves the generators alone. With ``num_workers > 0`` the CPU-side
    augmentations run in workers seeded per epoch by mmengine, so an exact resume
    needs ``num_workers=0`` or a resume at an epoch boundary; those of a
    ``ViewAugmentDataPreprocessor`` run in the main process and resume exactly.

    Validation runs on a fork of the generators: their states after it are those
    before it. A checkpoint is written before the validation that follows it, so a
    validation that drew from them (each data loader iterator draws a seed from
    torch's) would make the interrupted run differ from its resume (e.g. the
    teacher's shuffle-BN permutation with several processes), and a run with
    validation from one without.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, Any]] = None
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # Runner.save_checkpoint (and so before_save_checkpoint) runs on rank 0 only:
        # the other ranks' states are gathered beforehand, where a save may follow.
        self._gathered = None
        if get_world_size() > 1 and may_save_after_iter(runner, batch_idx):
            self._gathered = all_gather_object(capture_random_state(self._generators(runner)))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = (self._gathered
                                      or [capture_random_state(self._generators(runner))])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # a resume, not a plain load_from
        states = checkpoint.get('random_state') or []
        if not resume_of(runner)[0] or not states:
            return
        rank = get_rank()
        if len(states) != get_world_size():
            print_log(
                f'RandomStateHook: the checkpoint holds random states of {len(states)} '
                f'processes but {get_world_size()} run now; every rank restores rank 0\'s '
                'state, so the resumed run will not repeat the interrupted one exactly.',
                logger='current', level=logging.WARNING)
            rank = 0
        self._pending = states[rank]

    def before_val_epoch(self, runner) -> None:
        self._before_val = capture_random_state(self._generators(runner))

    def after_val_epoch(self, runner, metrics=None) -> None:
        # VERY_HIGH priority: before a best-checkpoint save at this point stores the state.
        if self._before_val is not None:
            restore_random_state(self._before_val, self._generators(runner))
            self._before_val = None

    def before_train(self, runner) -> None:
        if self._pending is not None:
            restore_random_state(self._pending, self._generators(runner))
            self._pending = None

    @staticmethod
    def _generators(runner) -> Dict[str, torch.Generator]:
        return module_generators(getattr(runner, 'model', None))
