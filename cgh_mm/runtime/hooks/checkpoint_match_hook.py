import logging
import math
import re
from typing import Optional, Sequence

from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import find_latest_checkpoint

from ..checkpoint import (
    checkpoint_folder,
    describe_state_dict_mismatch,
    find_resume_checkpoint,
    resume_of,
)
from ..resume_config import resume_mismatch, resume_refusal


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the run: another model's weights, another run's settings
    on resume, or no telling which checkpoint a resume continues."""


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """A checkpoint of another model or run is refused before training, not trained on.

    It checks a ``--resume`` / ``load_from`` checkpoint before anything is loaded.
    mmengine loads a checkpoint of another model with ``strict=False``: a warning,
    then training on partly random weights. This hook raises one error listing the
    missing, unexpected and wrongly shaped keys instead. On a resume it also:

    - refuses a checkpoint written with other training settings than this run's (its
      ``meta['cfg']`` and ``meta['seed']`` against the run's config): another model,
      ablation, seed, data, pipeline, batch, schedule or hooks would continue the
      checkpoint's run under other settings, a result of neither. A resume may change
      :data:`~cgh_mm.runtime.resume_config.RESUME_MAY_CHANGE` (the length of training,
      logging, saving, loader resources, precision) and ``resume_may_change``;
    - says when the checkpoint's optimizer settings (its learning rate, ...) override
      other ones of the config: mmengine restores the optimizer and schedulers, so a
      changed config lr (or ``--cfg-options optim_wrapper.optimizer.lr=...``) is ignored;
    - when the Runner is left to find the checkpoint (mmengine's ``last_checkpoint``),
      refuses before anything is loaded a ``last_checkpoint`` naming another folder's
      checkpoint, and checkpoints without a ``last_checkpoint`` (training from scratch
      would overwrite them): see :func:`~cgh_mm.runtime.find_resume_checkpoint`.

    Args:
        ignore_keys: regular expressions of keys that may be missing from or
            extra in the checkpoint (e.g. ``['^head\\.']`` to load a backbone).
        resume_may_change: dotted config keys (``fnmatch`` patterns; a key covers what
            is under it) a resume may change beyond the default ones, e.g.
            ``['train_dataloader.dataset.data_root']`` for the same data moved.
    """

    priority = 'VERY_HIGH'

    def __init__(self, ignore_keys: tuple = (), resume_may_change: Sequence[str] = ()) -> None:
        self.ignore_keys = [re.compile(pattern) for pattern in ignore_keys]
        self.resume_may_change = resume_may_change  # one key as a string too: resume_mismatch

    def before_run(self, runner) -> None:
        # tools/train.py names the checkpoint (load_from); a Runner left to mmengine's
        # lookup must not resume another folder's checkpoint, nor start over checkpoints.
        resume, load_from = resume_of(runner)
        if not resume or load_from is not None:
            return
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        folder = checkpoint_folder(runner.work_dir, getattr(hook, 'out_dir', None))
        try:
            path, how = find_resume_checkpoint(runner.work_dir, folder)
        except ValueError as err:
            raise CheckpointMismatchError(f'resume: {err}') from None
        if path is not None and path != (latest := find_latest_checkpoint(runner.work_dir)):
            raise CheckpointMismatchError(
                f'resume: {how}, but mmengine would resume from {latest}. Resume from '
                f'{path} by its path (`load_from={path}` with `resume=True`; tools/train.py '
                'does so itself).')

    def _kept(self, state: dict) -> dict:
        return {k: v for k, v in state.items() if not any(p.search(k) for p in self.ignore_keys)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # mmengine strips the prefix of DDP-wrapped checkpoints the same way.
        given = {re.sub(r'^module\.', '', k): v
                 for k, v in checkpoint.get('state_dict', checkpoint).items()}
        resume, load_from = resume_of(runner)
        source = load_from or f'the latest checkpoint of {runner.work_dir}'
        mismatch = describe_state_dict_mismatch(self._kept(model.state_dict()), self._kept(given))
        if mismatch is not None:
            raise CheckpointMismatchError(
                f'the checkpoint given to {"--resume" if resume else "`load_from`"} ({source}) '
                f'does not fit the model {type(model).__name__}: {mismatch}. It was written by '
                'another model or config. Pass a checkpoint of this config, or to start from '
                "pretrained weights of another model use `init_cfg=dict(type='StrictPretrained', "
                "checkpoint=..., prefix='backbone.')` on the part they fit.")
        if resume:
            self._check_resumed_settings(runner, checkpoint, source)

    def _check_resumed_settings(self, runner, checkpoint: dict, source: str) -> None:
        current = runner.cfg.to_dict()
        refused, restored = resume_mismatch(checkpoint.get('meta') or {}, current,
                                            self.resume_may_change)
        if refused:
            raise CheckpointMismatchError(resume_refusal(source, refused))
        lr_note = self._lr_note(runner, checkpoint)
        ignored = [lr_note] if lr_note else []
        ignored += [item for item in restored if lr_note is None
                    or not item.startswith('optim_wrapper.optimizer.lr:')]
        if ignored:
            print_log(
                f'--resume: the checkpoint ({source}) continues its own optimizer state and '
                'learning-rate schedule, so these settings of the config are ignored '
                f'(checkpoint -> config): {"; ".join(ignored)}. To train the checkpoint\'s '
                f'weights with the config\'s settings, start a new run with `--cfg-options '
                f'load_from={source}` (weights, teacher and queues; a fresh optimizer and '
                'schedule) instead of --resume.', logger='current', level=logging.WARNING)

    @staticmethod
    def _lr_note(runner, checkpoint: dict) -> Optional[str]:
        saved = checkpoint.get('optimizer', {}).get('param_groups', [{}])[0].get('initial_lr')
        groups = getattr(runner.optim_wrapper, 'param_groups', None)
        wanted = groups[0].get('initial_lr', groups[0]['lr']) if groups else None
        if None in (saved, wanted) or math.isclose(saved, wanted):
            return None
        return f'initial lr {saved:g} -> (the config\'s) initial lr {wanted:g}'
