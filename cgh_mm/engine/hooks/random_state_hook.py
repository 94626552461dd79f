import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

_KEY = 'random_state'


def capture_random_state() -> Dict[str, torch.Tensor]:
    """Python, numpy and torch (CPU and CUDA) generator states as tensors.

    Stored as int64/uint8 tensors only, so a checkpoint holding them still loads
    with ``torch.load(weights_only=True)``.
    """
    version, python_state, gauss_next = random.getstate()
    _, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    state = dict(
        python=torch.tensor([version, *python_state], dtype=torch.int64),
        python_gauss=torch.tensor([gauss_next is not None,
                                   0.0 if gauss_next is None else gauss_next],
                                  dtype=torch.float64),
        numpy=torch.from_numpy(np.asarray(numpy_keys, dtype=np.int64)),
        numpy_meta=torch.tensor([numpy_pos, numpy_has_gauss], dtype=torch.int64),
        numpy_gauss=torch.tensor(numpy_gauss, dtype=torch.float64),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def restore_random_state(state: Dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`capture_random_state`."""
    python = state['python'].tolist()
    has_gauss, gauss = state['python_gauss'].tolist()
    random.setstate((python[0], tuple(python[1:]), gauss if has_gauss else None))
    pos, numpy_has_gauss = state['numpy_meta'].tolist()
    np.random.set_state(('MT19937', state['numpy'].numpy().astype(np.uint32), pos,
                         numpy_has_gauss, float(state['numpy_gauss'])))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state['cuda']))


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves every rank's random generators in checkpoints; restores them on resume.

    mmengine re-seeds from ``randomness.seed`` when it resumes, so the data
    augmentations and any random op after a resume differ from those of an
    uninterrupted run. This hook stores the states of python's ``random``,
    numpy's global generator and torch's CPU (and CUDA) generators of every
    rank under ``checkpoint['random_state']`` and puts them back just before
    training continues (``before_train``: after mmengine's own re-seeding).
    Each rank gets its own state back when the number of processes is unchanged.
    Plain loads (``load_from`` without resume) leave the generators alone.

    With ``num_workers > 0`` the augmentations run in worker processes that
    mmengine seeds from (seed, rank, worker id) at the start of each epoch;
    those states are not in the checkpoint, so an exact resume needs
    ``num_workers=0`` or a resume at an epoch boundary.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, torch.Tensor]] = None
        self._gathered: Optional[List[Dict[str, torch.Tensor]]] = None
        self._gathered_at: Optional[int] = None

    def _gather(self, runner) -> None:
        # Runner.save_checkpoint (and so before_save_checkpoint) runs on rank 0
        # only, so the other ranks' states are collected beforehand, where the
        # checkpoint hook (priority VERY_LOW, after this one) may save.
        if get_world_size() > 1:
            self._gathered = all_gather_object(capture_random_state())
            self._gathered_at = getattr(runner, 'iter', None)

    @staticmethod
    def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
        return next((h for h in getattr(runner, 'hooks', ())
                     if isinstance(h, CheckpointHook)), None)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # A collective per iteration would sit on the hot path: gather only at the
        # iterations an iteration-based checkpoint hook saves (every iteration when
        # there is no checkpoint hook to ask).
        hook = self._checkpoint_hook(runner)
        if hook is None or (not hook.by_epoch and (
                self.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or self.is_last_train_iter(runner))):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        hook = self._checkpoint_hook(runner)
        if hook is None or hook.by_epoch:
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # States gathered for another iteration (e.g. before a save_best
        # checkpoint) would be stale: then only this rank's own state is saved.
        if get_world_size() > 1 and self._gathered_at == getattr(runner, 'iter', None):
            checkpoint[_KEY] = self._gathered
        else:
            checkpoint[_KEY] = [capture_random_state()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine has no public flag telling a resume from a plain load.
        states: List[Dict[str, Any]] = checkpoint.get(_KEY) or []
        if not getattr(runner, '_resume', False) or not states:
            return
        rank, world_size = get_rank(), get_world_size()
        if len(states) != world_size:
            print_log(
                f'RandomStateHook: the checkpoint holds random states of {len(states)} '
                f'processes but {world_size} run now; every rank restores rank 0\'s '
                'state, so the resumed run will not repeat the interrupted one exactly.',
                logger='current', level='WARNING')
            rank = 0
        self._pending = states[rank]

    def before_train(self, runner) -> None:
        if self._pending is not None:
            restore_random_state(self._pending)
            self._pending = None
