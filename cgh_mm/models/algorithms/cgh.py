"""CGH: cross-context learning between global and hypercolumn features.

Gao, Feng & Patras, WACV 2024 (arXiv 2308.13392). One training step::

    write last step's teacher embeddings into both queues (same slots)
    student(strong view) -> q_g, q_h          teacher(weak view) -> k_g, k_h
    loss_hyper  = CE(softmax(k_g Q_g / 0.04), q_h Q_h / 0.08)   global teaches hypercolumn
    loss_global = CE(softmax(k_h Q_h / 0.08), q_g Q_g / 0.1)    hypercolumn teaches global
    loss_nce    = InfoNCE(q_g; k_g, Q_g) + InfoNCE(q_h; k_h, Q_h)   (warm-up only)
    keep [k_g, k_h] of the global batch for the next step's write
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

QUEUE_DTYPES = ('float32', 'float16', 'bfloat16')


def check_queue_fits_batch(queue_len: int, batch_per_gpu: int, world_size: int) -> None:
    """Raise a ``ValueError`` unless the queue holds a whole number of global batches."""
    global_batch = batch_per_gpu * world_size
    if queue_len % global_batch != 0:
        raise ValueError(
            f'CGH: queue_len={queue_len} is not a multiple of the global batch '
            f'({batch_per_gpu} per GPU x {world_size} GPUs = {global_batch}). Set '
            f'`model.queue_len` to a multiple of {global_batch} (e.g. '
            f'{max(1, queue_len // global_batch) * global_batch}) or change the batch size, '
            'and keep `drop_last=True` in the train dataloader so every batch is full.')


@MODELS.register_module()
class CGH(BaseSelfSupervisor):
    """CGH self-supervised pre-training.

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

        Deferred to the next step (or to ``state_dict()``, so that checkpoints
        hold them): the backward of a step still reads the queues it used, and
        writing them then would cost a copy of both queues per step.
        """
        if self._pending_keys is None:
            return
        keys, self._pending_keys = self._pending_keys, None
        ptr, batch = int(self.queue_ptr), keys[0].shape[0]
        for queue, queue_keys in zip((self.global_queue, self.hypercolumn_queue), keys):
            queue[ptr:ptr + batch] = queue_keys
        self.queue_ptr[0] = (ptr + batch) % self.queue_len

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        self._write_pending_keys()
        super()._save_to_state_dict(destination, prefix, keep_vars)

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
        check_queue_fits_batch(self.queue_len, inputs[0].shape[0], get_world_size())
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
            self.teacher.update_parameters(self._student())
            shuffle = self.shuffle_teacher_bn and get_world_size() > 1
            weak_view, idx_unshuffle = batch_shuffle_ddp(inputs[0]) if shuffle else (
                inputs[0], None)
            teacher_keys = self.embed(weak_view, teacher=True)  # (global, hypercolumn or None)
            if shuffle:
                teacher_keys = [k if k is None else batch_unshuffle_ddp(k, idx_unshuffle)
                                for k in teacher_keys]

        losses = self.head.loss(student_global, student_hypercolumn, *teacher_keys,
                                self.global_queue, self.hypercolumn_queue,
                                local_student_global)
        self._pending_keys = [torch.cat(all_gather(k.contiguous()))
                              for k in teacher_keys if k is not None]
        return losses
