"""CGH: cross-context learning between global and hypercolumn features.

Gao, Feng & Patras, WACV 2024 (arXiv 2308.13392). One training step::

    write last step's teacher embeddings into both queues (same slots)
    student(strong view) -> q_g, q_h          teacher(weak view) -> k_g, k_h
    loss_hyper  = CE(softmax(k_g Q_g / 0.04), q_h Q_h / 0.08)   global teaches hypercolumn
    loss_global = CE(softmax(k_h Q_h / 0.08), q_g Q_g / 0.1)    hypercolumn teaches global
    loss_nce    = InfoNCE(q_g; k_g, Q_g) + InfoNCE(q_h; k_h, Q_h)   (warm-up only)
    keep [k_g, k_h] of the global batch for the next step's write

With gradient accumulation the teacher moves once per optimizer step (at the first
micro-batch after it) and every micro-batch writes its keys, as a step of that batch would.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank, get_world_size
from mmengine.model import ExponentialMovingAverage, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import batch_unshuffle_ddp
from mmpretrain.registry import MODEL_WRAPPERS, MODELS
from mmpretrain.structures import DataSample

QUEUE_DTYPES = ('float32', 'float16', 'bfloat16')


@MODELS.register_module()
class CGH(BaseSelfSupervisor):
    """Pretrains a backbone with CGH: cross-context relations between global and
    hypercolumn features (Gao, Feng & Patras, WACV 2024).

    Args:
        backbone: backbone config; its ``out_indices`` must return every stage
            used by ``hypercolumn_neck`` and, last, the stage of the global branch.
        neck: global neck config, fed with the last backbone map only
            (``MoCoV2Neck`` gives the paper's pool -> fc-relu-fc).
        hypercolumn_neck: :class:`HypercolumnNeck` config, or None for a head with
            ``teaching='global'`` (no hypercolumn branch, queue or relations are built).
        head: :class:`CrossContextHead` config.
        queue_len: slots of each queue (131072 for ImageNet), a multiple of the
            global batch.
        feat_dim: embedding size of both necks.
        teacher_momentum: the paper's EMA momentum ``m``:
            ``teacher = m * teacher + (1 - m) * student``.
        shuffle_teacher_bn: shuffle the teacher's batch across GPUs (shuffle-BN,
            as MoCo). Set False when the backbone uses SyncBN.
        num_local_crops: extra student views (multi-crop), global branch only.
        queue_dtype: one of ``QUEUE_DTYPES``; relations are float32 regardless.
        channels_last: store the 4-D weights of student and teacher channels-last
            (NHWC), the layout of cuDNN's fastest convolutions on tensor cores.
        pretrained, data_preprocessor, init_cfg: as in ``BaseSelfSupervisor``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 hypercolumn_neck: Optional[dict],
                 head: dict,
                 queue_len: int = 131072,
                 feat_dim: int = 512,
                 teacher_momentum: float = 0.999,
                 shuffle_teacher_bn: bool = True,
                 num_local_crops: int = 0,
                 queue_dtype: str = 'float32',
                 channels_last: bool = False,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0.0 <= teacher_momentum < 1.0:
            raise ValueError('CGH: teacher_momentum must be in [0, 1) (paper sense, e.g. '
                             f'0.999), got {teacher_momentum}.')
        if queue_dtype not in QUEUE_DTYPES or queue_len <= 0 or num_local_crops < 0:
            raise ValueError(
                f'CGH: needs queue_dtype in {QUEUE_DTYPES}, queue_len > 0 and '
                f'num_local_crops >= 0, got {queue_dtype!r}, {queue_len}, {num_local_crops}.')
        global_only = getattr(self.head, 'teaching', 'cross') == 'global'
        if global_only != (hypercolumn_neck is None):
            raise ValueError(
                f"CGH: head.teaching={getattr(self.head, 'teaching', 'cross')!r} "
                f'{"needs" if not global_only else "uses no"} hypercolumn branch, but '
                f'model.hypercolumn_neck is {"None" if hypercolumn_neck is None else "set"}. '
                "Set model.hypercolumn_neck=None with teaching='global' (global relations "
                'only), and a HypercolumnNeck config with teaching=\'cross\' or \'same\'.')
        self.hypercolumn_neck = None if global_only else MODELS.build(hypercolumn_neck)
        self.queue_len = queue_len
        self.feat_dim = feat_dim
        self.shuffle_teacher_bn = shuffle_teacher_bn
        self.num_local_crops = num_local_crops
        # mmengine's EMA momentum is the weight of the new value: 1 - m.
        self.teacher = ExponentialMovingAverage(self._student(), momentum=1 - teacher_momentum)
        # (K, C): one row per slot; slot j of both queues is the same past image.
        for name in ('global_queue', 'hypercolumn_queue'):
            queue = F.normalize(torch.randn(queue_len, feat_dim), dim=1)
            without = global_only and name == 'hypercolumn_queue'  # None: not in checkpoints
            self.register_buffer(name, None if without else queue.to(getattr(torch, queue_dtype)))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self._pending_keys: Optional[List[torch.Tensor]] = None
        self._teacher_moves = True  # False for a micro-batch that follows no optimizer step
        self._teacher_updated = False  # True once the host knows teacher.steps > 0
        self.register_state_dict_post_hook(_state_dict_with_pending_keys)
        self.register_load_state_dict_post_hook(_after_loading)
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def check_queue_fits_batch(self, batch_per_gpu: int, world_size: int) -> None:
        """Raise a ``ValueError`` unless the queues hold a whole number of global batches
        (checked at every step, and by ``CGHHealthHook`` before training)."""
        global_batch = batch_per_gpu * world_size
        if self.queue_len % global_batch != 0:
            raise ValueError(
                f'CGH: queue_len={self.queue_len} is not a multiple of the global batch '
                f'({batch_per_gpu} per GPU x {world_size} GPUs = {global_batch}). Set '
                f'`model.queue_len` to a multiple of {global_batch} (e.g. '
                f'{max(1, self.queue_len // global_batch) * global_batch}) or change the '
                'batch size, and keep `drop_last=True` in the train dataloader so every '
                'batch is full.')

    def _student(self) -> nn.ModuleDict:
        """The student's modules, as the teacher averages them."""
        modules = dict(backbone=self.backbone, neck=self.neck)
        if self.hypercolumn_neck is not None:
            modules['hypercolumn_neck'] = self.hypercolumn_neck
        return nn.ModuleDict(modules)

    def embed(self, images: torch.Tensor,
              teacher: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """L2-normalised ``(global, hypercolumn)`` embeddings, ``(N, C)`` each (the
        hypercolumn one None without a hypercolumn branch), of the student or of the EMA
        teacher; ``images`` are preprocessed ``(N, 3, H, W)``."""
        encoder = self.teacher.module if teacher else self._student()
        feats = encoder.backbone(images)
        hypercolumn = (F.normalize(encoder.hypercolumn_neck(feats)[0], dim=1)
                       if 'hypercolumn_neck' in encoder else None)
        return F.normalize(encoder.neck((feats[-1], ))[0], dim=1), hypercolumn

    @torch.no_grad()
    def _write_pending_keys(self) -> None:
        """Write the last step's teacher embeddings into both queues.

        Deferred to the next step: the backward of a step still reads the queues it used,
        and writing them then would cost a copy of both queues per step (``state_dict()``
        returns the queues with the keys written, without touching them). The pointer
        stays on the device: no host sync, no graph break under ``torch.compile``.
        """
        if self._pending_keys is None:
            return
        keys, self._pending_keys = self._pending_keys, None
        slots, next_ptr = self._pending_slots(keys)
        for queue, queue_keys in zip((self.global_queue, self.hypercolumn_queue), keys):
            queue.index_copy_(0, slots, queue_keys.to(queue.dtype))
        self.queue_ptr.copy_(next_ptr)

    def _pending_slots(self, keys: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The queue rows that ``keys`` go to, and the pointer after them (on the device)."""
        slots = self.queue_ptr + torch.arange(keys[0].shape[0], device=self.queue_ptr.device)
        return slots, (slots[-1:] + 1) % self.queue_len

    @torch.no_grad()
    def _update_teacher(self) -> None:
        """One step of mmengine's ``ExponentialMovingAverage.update_parameters``:
        ``teacher = lerp(teacher, student, w)`` with w = 1 at the first update (a copy of
        the student) and mmengine's momentum after; buffers are copied. No host sync:
        ``steps`` is never read on the host.

        ``_foreach_lerp_`` has no overload that takes its weight as one device tensor (it
        would read it with ``.item()``, a sync). So until the host knows that the teacher
        has been updated (before the first update of this model and after a load), w is
        chosen on the device and given per tensor; then it is the momentum, a host number,
        and the lerp is one foreach kernel over all parameters. Both are the same lerp
        kernel on the same float32 weight (bit-identical on the CPU).
        """
        ema, student = self.teacher, self._student()
        params = dict(student.named_parameters())
        averages = list(ema.avg_parameters.values())
        sources = [params[name] for name in ema.avg_parameters]
        if self._teacher_updated and not torch.compiler.is_compiling():
            torch._foreach_lerp_(averages, sources, ema.momentum)
        else:  # maybe the first update; compiled, one graph serves every step (fused)
            weight = torch.where(ema.steps == 0, 1.0, ema.momentum)
            torch._foreach_lerp_(averages, sources, [weight] * len(averages))
            self._teacher_updated = True
        # BN statistics (none with GroupNorm): one copy per dtype (float32 statistics, int64
        # num_batches_tracked), as CUDA's foreach kernels take one dtype per call.
        by_dtype: Dict[torch.dtype, Tuple[List[torch.Tensor], List[torch.Tensor]]] = {}
        for mine, theirs in zip(ema.module.buffers(), student.buffers()):
            dst, src = by_dtype.setdefault(mine.dtype, ([], []))
            dst.append(mine)
            src.append(theirs)
        for dst, src in by_dtype.values():
            torch._foreach_copy_(dst, src)
        ema.steps += 1

    @torch.compiler.disable(recursive=False)
    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper,
                   ddp: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
        """mmengine's ``train_step`` (of ``BaseModel``, or of its DDP wrapper ``ddp``, whose
        forward then runs the loss), with the teacher moved once per optimizer step under
        gradient accumulation, and ready for ``compile=True``: this frame runs eagerly, so
        the optimizer wrapper and the data preprocessor stay out of ``torch.compile``
        (dynamo fails on the optimizer's param groups, and would recompile for every batch's
        ``DataSample`` metadata); the forward and loss it calls are compiled."""
        runner_model = self if ddp is None else ddp
        # before this micro-batch's backward: True iff the last one ended with a step
        self._teacher_moves = optim_wrapper.should_update()
        with optim_wrapper.optim_context(runner_model):
            data = _eager(self.data_preprocessor, data, True)
            losses = runner_model(**data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        _eager(optim_wrapper.update_params, parsed_losses)
        self._teacher_moves = True  # a direct call of loss() moves the teacher
        return log_vars

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Loss terms of one step.

        Args:
            inputs: ``[weak view, strong view, *local crops]``, ``(N, 3, H, W)`` each.
            data_samples: unused.

        Returns:
            ``loss_nce``, ``loss_hyper``, ``loss_global`` (their sum is the total
            loss), and ``alpha`` and ``health/*`` for the log (see the head).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2 + self.num_local_crops:
            raise ValueError(
                f'CGH expects {2 + self.num_local_crops} views per image (weak view for the '
                f'teacher, strong view for the student, {self.num_local_crops} local crops) '
                f'but got {len(inputs) if isinstance(inputs, (list, tuple)) else "one"}. '
                f'Make the pipeline\'s MultiView produce {2 + self.num_local_crops} views, '
                'or set `model.num_local_crops` to match it.')
        self.check_queue_fits_batch(inputs[0].shape[0], get_world_size())
        self._write_pending_keys()
        student_global, student_hypercolumn = self.embed(inputs[1])
        if student_global.shape[1] != self.feat_dim:
            raise ValueError(
                f'CGH: the necks output {student_global.shape[1]}-d embeddings but '
                f"feat_dim={self.feat_dim}; set both necks' out_channels to feat_dim.")
        # One backbone pass per local crop: batch-norm statistics per crop.
        local_student_global = [
            F.normalize(self.neck((self.backbone(crop)[-1], ))[0], dim=1) for crop in inputs[2:]
        ]
        with torch.no_grad():
            if self._teacher_moves:
                self._update_teacher()
            shuffle = self.shuffle_teacher_bn and get_world_size() > 1
            weak_view, unshuffle = shuffle_across_ranks(inputs[0]) if shuffle else (
                inputs[0], None)
            teacher_keys = self.embed(weak_view, teacher=True)  # (global, hypercolumn or None)
            if shuffle:
                teacher_keys = [k if k is None else batch_unshuffle_ddp(k, unshuffle)
                                for k in teacher_keys]

        losses = self.head.loss(student_global, student_hypercolumn, *teacher_keys,
                                self.global_queue, self.hypercolumn_queue,
                                local_student_global)
        self._pending_keys = [torch.cat(all_gather(k.contiguous()))
                              for k in teacher_keys if k is not None]
        return losses


def shuffle_across_ranks(images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Shuffle-BN: this rank's share of the all-gathered batch in a random order that
    every rank shares, and the order that undoes it (mmpretrain's ``batch_unshuffle_ddp``).

    mmpretrain's ``batch_shuffle_ddp`` with the permutation drawn and broadcast on the
    images' device (the same draw on the CPU): mmengine's ``broadcast`` copies it to the
    host and back each step, and its Python breaks ``torch.compile``'s graph; the
    functional broadcast traces.
    """
    gathered = torch.cat(all_gather(images))
    permutation = torch.randperm(gathered.shape[0], device=images.device)
    permutation = funcol.broadcast(permutation, 0, dist.group.WORLD)  # rank 0's
    mine = permutation.view(get_world_size(), -1)[get_rank()]
    return gathered[mine], torch.argsort(permutation)


@torch.compiler.disable
def _eager(fn: Callable, *args) -> Any:
    """``fn(*args)``, run outside ``torch.compile``."""
    return fn(*args)


def _state_dict_with_pending_keys(module: CGH, state_dict: dict, prefix: str,
                                  local_metadata: dict) -> None:
    """State-dict post-hook: the returned queues and pointer hold the keys that the next
    step writes (so checkpoints hold them); the model's own tensors, which a backward may
    still need, are not touched."""
    if module._pending_keys is None:
        return
    slots, next_ptr = module._pending_slots(module._pending_keys)
    for name, keys in zip(('global_queue', 'hypercolumn_queue'), module._pending_keys):
        queue = state_dict[prefix + name]
        state_dict[prefix + name] = queue.index_copy(0, slots, keys.to(queue.dtype))
    state_dict[prefix + 'queue_ptr'] = next_ptr


def _after_loading(module: CGH, incompatible_keys) -> None:
    """Load-state-dict post-hook: loaded queues replace the keys of the steps before, and
    the loaded teacher may never have been updated (``steps`` 0)."""
    module._pending_keys = None
    module._teacher_updated = False


@MODEL_WRAPPERS.register_module()
class CGHDistributedDataParallel(MMDistributedDataParallel):
    """Trains CGH on several GPUs as on one: mmengine's DDP wrapper with
    :meth:`CGH.train_step` as its ``train_step``. The CGH configs select it:
    ``model_wrapper_cfg=dict(type='mmpretrain.CGHDistributedDataParallel', ...)``; any
    other model trains as under ``MMDistributedDataParallel``."""

    @torch.compiler.disable(recursive=False)
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        if not isinstance(self.module, CGH):
            return super().train_step(data, optim_wrapper)
        return self.module.train_step(data, optim_wrapper, ddp=self)
