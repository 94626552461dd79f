import logging
import math
from typing import Dict, Optional

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log
from mmpretrain.engine.hooks import WarmupParamHook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from ...runtime import resume_of
from .view_pairing import view_pairing_problems


def _batch_size(loader) -> int:
    """Images per process and iteration (also with a batch sampler of its own)."""
    return loader.batch_size or loader.batch_sampler.batch_size


def _split(world_size: int, batch_size: int) -> str:
    return f'{world_size} process{"es" if world_size > 1 else ""} x {batch_size}'


# loss_hyper and loss_global are named by their student context; the teacher context
# whose relations are their target: the other one with CGH's 'cross' teaching, else the same.
STUDENT_CONTEXT = {'hyper': 'hypercolumn', 'global': 'global'}
CROSS_TEACHER = {'hyper': 'global', 'global': 'hypercolumn'}


def teacher_contexts(teaching: str) -> Dict[str, str]:
    """Loss name (``hyper``, ``global``) -> the teacher context whose relations are its
    target under CrossContextHead's ``teaching``."""
    return CROSS_TEACHER if teaching == 'cross' else STUDENT_CONTEXT


@HOOKS.register_module()
class CGHHealthHook(Hook):
    """A CGH run whose settings would silently stop its learning signal is refused or
    warned about, with the fix.

    Before training it refuses a training pipeline whose views do not fit the model
    (:func:`~.view_pairing.view_pairing_problems`: their number, a strong view without
    colour augmentation, colour augmented twice on the CPU and the device), queues that
    hold no whole number of global batches, a partial last batch (``drop_last=False``) or
    a loaded queue pointer off the batch slots (either leaves the pointer between slots),
    a resume with another global batch than the checkpoint's (saved in its ``meta``), and
    an InfoNCE warm-up (``WarmupParamHook`` on ``head.alpha``) shorter than one refill of
    the queues (they would fill with near-identical early keys: flat targets); it warns
    when the queue is longer than the dataset. During training it refuses a batch of
    another size than configured, and warns once per loss when, after the warm-up,
    ``health/*_target_entropy`` (read from the message hub: no device sync) stays within
    ``flat_margin`` of uniform for ``window`` iterations in a row. Once the warm-up is
    over, ``loss_nce`` (no longer computed: 0) is logged from then on, not as a mean over
    a window of warm-up iterations.

    Args:
        strict_warmup: refuse to start (default) or only warn on a too short warm-up.
        flat_margin: entropy fraction above ``1 - flat_margin`` counts as flat.
        window: consecutive flat iterations before the warning.
        require_colour_augmentation: refuse a strong view without colour augmentation
            (default); False for an ablation without it.
    """

    priority = 'LOW'

    def __init__(self, strict_warmup: bool = True, flat_margin: float = 2e-3,
                 window: int = 50, require_colour_augmentation: bool = True) -> None:
        self.strict_warmup = strict_warmup
        self.require_colour_augmentation = require_colour_augmentation
        self.flat_margin = flat_margin
        self.window = window
        self._flat_iters = {name: 0 for name in STUDENT_CONTEXT}
        self._batch_size: Optional[int] = None
        self._nce_log_restarted = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # What a resume must keep: the queue pointer and the iteration counts follow it.
        checkpoint.setdefault('meta', {}).update(
            batch_size=_batch_size(runner.train_dataloader), world_size=get_world_size())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        resume, load_from = resume_of(runner)
        if not resume or 'batch_size' not in meta:
            return
        saved_batch, saved_world = meta['batch_size'], meta['world_size']
        batch, world = _batch_size(runner.train_dataloader), get_world_size()
        if saved_batch * saved_world == batch * world:
            return  # another split of the same global batch continues the same schedule
        saved_global = saved_batch * saved_world
        same = (f'{_split(world, saved_global // world)} (train_dataloader.batch_size='
                f'{saved_global // world}), or ' if saved_global % world == 0 else '')
        raise ValueError(
            '--resume: the checkpoint '
            f'({load_from or f"the latest of {runner.work_dir}"}) was written '
            f'with a global batch of {saved_global} ({_split(saved_world, saved_batch)}), this '
            f'run has {batch * world} ({_split(world, batch)}). Its iteration count, position '
            'in the epoch, learning-rate and warm-up schedules (counted in iterations) and queue '
            f'pointer all assume {saved_global} images per iteration: the resumed run would '
            'skip or repeat data and write the queues out of step. Resume with the same global '
            f'batch of {saved_global}: {same}{_split(saved_world, saved_batch)} as before; or '
            'start a new run from its weights with `--cfg-options load_from=PATH` (a fresh '
            'optimizer and schedule) and a global batch that divides its queue pointer.')

    def before_train(self, runner) -> None:
        self._nce_log_restarted = False
        cfg = getattr(runner, 'cfg', None)
        problems = view_pairing_problems(cfg, self.require_colour_augmentation) if cfg else []
        if problems:
            raise ValueError('CGH: the views of the training pipeline do not fit the model:\n- '
                             + '\n- '.join(problems))
        model = get_ori_model(runner.model)
        loader = runner.train_dataloader
        batch, world = _batch_size(loader), get_world_size()
        model.check_queue_fits_batch(batch, world)
        self._batch_size = batch
        sampler = getattr(loader.batch_sampler, 'sampler', None)
        if getattr(loader.batch_sampler, 'drop_last', True) is False and sampler is not None \
                and len(sampler) % batch:
            raise ValueError(
                f'CGH: train_dataloader.drop_last=False and each process draws {len(sampler)} '
                f'images per epoch, not a multiple of its batch of {batch}: the last batch of '
                f'every epoch would hold {len(sampler) % batch} images and leave the queue '
                f'pointer off the slots of the global batch ({batch * world}), and a later '
                'write would run past the end of the queue. Set '
                'train_dataloader.drop_last=True (each epoch then leaves out '
                f'{len(sampler) % batch} images per process; shuffled, other ones every epoch).')
        ptr = int(model.queue_ptr)
        if ptr % (batch * world):
            raise ValueError(
                f'CGH: the queue pointer loaded from the checkpoint is at slot {ptr}, not a '
                f'multiple of the global batch {batch * world} ({_split(world, batch)}): '
                'the checkpoint was written with another global batch, and writing this '
                "run's batches from there would run past the end of the queue. Train with "
                'the global batch of the checkpoint, or one that divides both its queue '
                f'pointer {ptr} and queue_len {model.queue_len}.')
        refill = model.queue_len // (batch * world)
        iters_per_epoch = runner.max_iters / runner.max_epochs
        warmup = next((h.warmup_epochs for h in runner.hooks if isinstance(h, WarmupParamHook)
                       and h.param_name == 'alpha'), 0)
        warmup_iters = warmup * iters_per_epoch
        # alpha held at 0 (no warm-up hook): InfoNCE only, no relational target to go flat.
        infonce_only = not warmup and float(model.head.alpha) == 0
        if warmup_iters < refill and not infonce_only:
            message = (
                f'CGH: the InfoNCE warm-up ends after {math.ceil(warmup_iters)} iterations, '
                f'before the queues are refilled once (queue_len {model.queue_len} / global batch '
                f'{batch * world} = {refill} iterations). The queues would fill with the '
                'near-identical keys of early training, the teacher\'s relation targets turn '
                'uniform and loss_hyper/loss_global stop teaching while they look like a '
                f'plateau. Fix: warm up for at least {refill} iterations (custom_hooks: '
                "dict(type='WarmupParamHook', param_name='alpha', module_name='head', "
                f'warmup_epochs={math.ceil(100 * refill / iters_per_epoch) / 100:g})), or '
                f'shorten the queue (model.queue_len <= {int(warmup_iters) * batch * world}, '
                'a multiple of the global batch).')
            if self.strict_warmup:
                raise ValueError(message + ' To train anyway, set '
                                 "dict(type='CGHHealthHook', strict_warmup=False).")
            print_log(message, logger='current', level=logging.WARNING)
        if len(loader.dataset) < model.queue_len:
            print_log(f'CGH: the queue ({model.queue_len} slots) is longer than the training set '
                      f'({len(loader.dataset)} images): it holds several keys of each image, from '
                      'different epochs, so relations partly compare an image with its own past '
                      'keys. Set model.queue_len to at most the dataset size (a multiple of the '
                      f'global batch {batch * world}).', logger='current', level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        # After the warm-up (WarmupParamHook, NORMAL priority, has set alpha) the head no
        # longer computes loss_nce: its log starts afresh (in its place in the log line),
        # or it would show the mean of a window of warm-up iterations next to alpha 1.
        # Once per run: at the first such iteration, also the first after a resume.
        if not self._nce_log_restarted:
            head = getattr(get_ori_model(runner.model), 'head', None)
            if getattr(head, 'computes_nce', True) is False:
                self._nce_log_restarted = True
                scalars = runner.message_hub.log_scalars
                if 'train/loss_nce' in scalars:
                    scalars['train/loss_nce'] = HistoryBuffer()
        views = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        size = None
        if isinstance(views, (list, tuple)) and views:  # default_collate: a batch per view
            first = views[0]  # pseudo_collate: the views per sample
            size = first.shape[0] if isinstance(first, torch.Tensor) and first.dim() == 4 \
                else len(views)
        if None not in (size, self._batch_size) and size != self._batch_size:
            raise ValueError(
                f'CGH: batch {batch_idx + 1} of epoch {runner.epoch + 1} holds {size} images, '
                f'the batch size is {self._batch_size}: a partial batch leaves the queue '
                'pointer off the slots of the global batch. Use a batch sampler that yields '
                'full batches only (drop_last=True).')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        hub = runner.message_hub
        if 'train/alpha' not in hub.log_scalars or hub.get_scalar('train/alpha').current() < 1:
            return
        for name in STUDENT_CONTEXT:
            key = f'train/health/{name}_target_entropy'
            if key not in hub.log_scalars:
                continue
            flat = hub.get_scalar(key).current() > 1 - self.flat_margin
            self._flat_iters[name] = self._flat_iters[name] + 1 if flat else 0
            if self._flat_iters[name] == self.window:
                teaching = getattr(get_ori_model(runner.model).head, 'teaching', 'cross')
                context = teacher_contexts(teaching)[name]
                print_log(
                    f'CGH health: for {self.window} iterations the target of '
                    f'loss_{name} (the teacher\'s {context} relations) has been '
                    f'uniform over the queue (entropy > {1 - self.flat_margin:g} x ln K). The '
                    'loss is then near its minimum whatever the student does: it gives no '
                    'learning signal, its value only looks like a plateau. Usual causes: a '
                    'warm-up shorter than a queue refill, a collapsed teacher (see '
                    'health/teacher_*_cos near 1), a teacher temperature too high. Try a '
                    'longer warm-up, a shorter queue, or a lower teacher temperature.',
                    logger='current', level=logging.WARNING)
