"""CGH: cross-context learning between global and hypercolumn features.

Gao, Feng & Patras, WACV 2024 (arXiv 2308.13392). One training step::

    flush last step's teacher embeddings into both queues (same slots)
    student(strong view) -> q_g, q_h          teacher(weak view) -> k_g, k_h
    loss_hyper  = CE(softmax(k_g Q_g / 0.04), q_h Q_h / 0.08)   global teaches hypercolumn
    loss_global = CE(softmax(k_h Q_h / 0.08), q_g Q_g / 0.1)    hypercolumn teaches global
    loss_nce    = InfoNCE(q_g; k_g, Q_g) + InfoNCE(q_h; k_h, Q_h)   (warm-up only)
    keep [k_g, k_h] of the global batch as pending for the next step's flush
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import ForeachEMA

_QUEUE_NAMES = ('global_queue', 'hypercolumn_queue')
_QUEUE_DTYPES = dict(float32=torch.float32, float16=torch.float16, bfloat16=torch.bfloat16)


def check_queue_fits_batch(queue_len: int, batch_per_gpu: int, world_size: int) -> None:
    """Raise a ``ValueError`` unless the queue holds a whole number of global batches."""
    global_batch = batch_per_gpu * world_size
    if global_batch > queue_len:
        raise ValueError(
            f'CGH: the global batch ({batch_per_gpu} per GPU x {world_size} GPUs = '
            f'{global_batch}) is larger than the queue (queue_len={queue_len}). '
            'Increase `model.queue_len` or lower the batch size.')
    if queue_len % global_batch != 0:
        raise ValueError(
            f'CGH: queue_len={queue_len} is not a multiple of the global batch '
            f'({batch_per_gpu} per GPU x {world_size} GPUs = {global_batch}). '
            f'Set `model.queue_len` to a multiple of {global_batch} (e.g. '
            f'{max(1, queue_len // global_batch) * global_batch}), change the batch '
            'size, and keep `drop_last=True` in the train dataloader so every '
            'batch is full.')


def encode_contexts(backbone: nn.Module, neck: nn.Module, hypercolumn_neck: nn.Module,
                    images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised ``(global, hypercolumn)`` embeddings, ``(N, C)`` each.

    The backbone runs once; the global neck sees the last map, the hypercolumn
    neck the whole tuple.
    """
    feats = backbone(images)
    global_emb = neck((feats[-1], ))[0]
    hypercolumn_emb = hypercolumn_neck(feats)[0]
    return F.normalize(global_emb, dim=1), F.normalize(hypercolumn_emb, dim=1)


class ContextEncoder(nn.Module):
    """Backbone and both necks as one module: what the teacher averages."""

    def __init__(self, backbone: nn.Module, neck: nn.Module,
                 hypercolumn_neck: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.hypercolumn_neck = hypercolumn_neck

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return encode_contexts(self.backbone, self.neck, self.hypercolumn_neck, images)


@MODELS.register_module()
class CGH(BaseSelfSupervisor):
    """CGH self-supervised pre-training.

    Args:
        backbone: backbone config; its ``out_indices`` must return every stage
            used by ``hypercolumn_neck`` and, last, the stage of the global branch.
        neck: global neck config, fed with the last backbone map only
            (``MoCoV2Neck`` gives the paper's pool -> fc-relu-fc).
        hypercolumn_neck: :class:`HypercolumnNeck` config.
        head: :class:`CrossContextHead` config.
        queue_len: slots of each queue (131072 for ImageNet). Must be a multiple
            of the global batch.
        feat_dim: embedding size of both necks.
        teacher_momentum: paper-sense EMA momentum ``m``:
            ``teacher = m * teacher + (1 - m) * student``.
        shuffle_teacher_bn: shuffle the teacher's batch across GPUs (shuffle-BN,
            as MoCo). Set False when the backbone uses SyncBN. No-op on one process.
        num_local_crops: extra student views (multi-crop), global branch only.
        queue_dtype: ``'float32'``, ``'float16'`` or ``'bfloat16'``; relations are
            always turned to float32 before softmax.
        pretrained, data_preprocessor, init_cfg: as in ``BaseSelfSupervisor``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 hypercolumn_neck: dict,
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
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not 0.0 <= teacher_momentum < 1.0:
            raise ValueError(
                f'CGH: teacher_momentum must be in [0, 1) (paper sense, e.g. 0.999), '
                f'got {teacher_momentum}.')
        if queue_dtype not in _QUEUE_DTYPES:
            raise ValueError(f'CGH: queue_dtype must be one of {sorted(_QUEUE_DTYPES)}, '
                             f'got {queue_dtype!r}.')
        if queue_len <= 0 or num_local_crops < 0:
            raise ValueError(f'CGH: queue_len must be > 0 and num_local_crops >= 0, got '
                             f'{queue_len} and {num_local_crops}.')
        self.hypercolumn_neck = MODELS.build(hypercolumn_neck)
        self.queue_len = int(queue_len)
        self.feat_dim = int(feat_dim)
        self.teacher_momentum = float(teacher_momentum)
        self.shuffle_teacher_bn = shuffle_teacher_bn
        self.num_local_crops = int(num_local_crops)

        # mmengine's EMA momentum is the weight of the new value: 1 - m.
        self.teacher = ForeachEMA(self._student_encoder(), momentum=1.0 - teacher_momentum)

        dtype = _QUEUE_DTYPES[queue_dtype]
        self.register_buffer('global_queue', self._random_unit_queue(dtype))
        self.register_buffer('hypercolumn_queue', self._random_unit_queue(dtype))
        # One pointer: slot j of both queues always holds the same past image.
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        # Set each iteration by CGHLossWarmupHook; 1.0 means no InfoNCE warm-up.
        self.register_buffer('alpha', torch.ones(()))
        self._pending_keys: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    def _random_unit_queue(self, dtype: torch.dtype) -> torch.Tensor:
        # Held (K, C): one row per slot, the fast GEMM layout (see relation_losses).
        return F.normalize(torch.randn(self.queue_len, self.feat_dim), dim=1).to(dtype)

    def _student_encoder(self) -> ContextEncoder:
        return ContextEncoder(self.backbone, self.neck, self.hypercolumn_neck)

    # ------------------------------------------------------------------ queues
    @torch.no_grad()
    def flush_pending_keys(self) -> None:
        """Write the last step's teacher embeddings into both queues.

        Writing is deferred to the start of the next step (or to the next
        ``state_dict()``): autograd still needs the queues of a step for its
        backward, and deferring avoids a copy of both queues per step.
        """
        if self._pending_keys is None:
            return
        global_keys, hypercolumn_keys = self._pending_keys
        self._pending_keys = None
        batch = global_keys.shape[0]
        ptr = int(self.queue_ptr)
        self.global_queue[ptr:ptr + batch] = global_keys
        self.hypercolumn_queue[ptr:ptr + batch] = hypercolumn_keys
        self.queue_ptr[0] = (ptr + batch) % self.queue_len

    @torch.no_grad()
    def _stash_keys(self, global_keys: torch.Tensor, hypercolumn_keys: torch.Tensor) -> None:
        """Gather the teacher embeddings of the whole global batch for the next flush."""
        if get_world_size() == 1:
            # Nothing to gather: skip the collective and the concatenated copy.
            self._pending_keys = (global_keys.detach(), hypercolumn_keys.detach())
            return
        self._pending_keys = (torch.cat(all_gather(global_keys.contiguous()), dim=0),
                              torch.cat(all_gather(hypercolumn_keys.contiguous()), dim=0))

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        # A checkpoint must hold the queues after the last enqueue.
        self.flush_pending_keys()
        super()._save_to_state_dict(destination, prefix, keep_vars)
        # Checkpoints keep the paper's (C, K) queues: a transposed view, no copy.
        for name in _QUEUE_NAMES:
            destination[prefix + name] = destination[prefix + name].T

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs) -> None:
        for name in _QUEUE_NAMES:
            key = prefix + name
            if key in state_dict and state_dict[key].dim() == 2:
                state_dict[key] = state_dict[key].T
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    # ---------------------------------------------------------------- forward
    def extract_feat(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                     **kwargs) -> Tuple[torch.Tensor, ...]:
        """Backbone maps of the student (of the first view when given several)."""
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        return self.backbone(inputs)

    @torch.no_grad()
    def _teacher_forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        self.teacher.update_parameters(self._student_encoder())
        shuffle = self.shuffle_teacher_bn and get_world_size() > 1
        if shuffle:
            images, idx_unshuffle = batch_shuffle_ddp(images)
        global_keys, hypercolumn_keys = self.teacher(images)
        if shuffle:
            global_keys = batch_unshuffle_ddp(global_keys, idx_unshuffle)
            hypercolumn_keys = batch_unshuffle_ddp(hypercolumn_keys, idx_unshuffle)
        return global_keys, hypercolumn_keys

    def _local_global_embeddings(self, crops: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Student global embeddings of the multi-crop views, one backbone pass per size."""
        embeddings: List[torch.Tensor] = []
        start = 0
        while start < len(crops):
            end = start + 1
            while end < len(crops) and crops[end].shape[-2:] == crops[start].shape[-2:]:
                end += 1
            feats = self.backbone(torch.cat(list(crops[start:end]), dim=0))
            emb = F.normalize(self.neck((feats[-1], ))[0], dim=1)
            embeddings.extend(emb.chunk(end - start, dim=0))
            start = end
        return embeddings

    def _check_inputs(self, inputs: List[torch.Tensor]) -> None:
        expected = 2 + self.num_local_crops
        if not isinstance(inputs, (list, tuple)) or len(inputs) != expected:
            got = len(inputs) if isinstance(inputs, (list, tuple)) else 'a single tensor'
            raise ValueError(
                f'CGH expects {expected} views per image (weak view for the teacher, '
                f'strong view for the student, {self.num_local_crops} local crops) but '
                f'got {got}. Make the pipeline\'s MultiView produce {expected} views, or '
                'set `model.num_local_crops` to match it.')
        check_queue_fits_batch(self.queue_len, inputs[0].shape[0], get_world_size())

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Loss terms of one step.

        Args:
            inputs: ``[weak view, strong view, *local crops]``, ``(N, 3, H, W)`` each.
            data_samples: unused.

        Returns:
            ``loss_nce``, ``loss_hyper``, ``loss_global`` (weighted; their sum is
            the total loss) and ``alpha`` (logged only).
        """
        self._check_inputs(inputs)
        self.flush_pending_keys()

        student_global, student_hypercolumn = encode_contexts(
            self.backbone, self.neck, self.hypercolumn_neck, inputs[1])
        if student_global.shape[1] != self.feat_dim:
            raise ValueError(
                f'CGH: the necks output {student_global.shape[1]}-d embeddings but '
                f'feat_dim={self.feat_dim}; set both necks\' out_channels to feat_dim.')
        local_student_global = self._local_global_embeddings(inputs[2:])
        teacher_global, teacher_hypercolumn = self._teacher_forward(inputs[0])

        losses = self.head.loss(
            student_global, student_hypercolumn, teacher_global, teacher_hypercolumn,
            self.global_queue, self.hypercolumn_queue, alpha=float(self.alpha),
            local_student_global=local_student_global)
        self._stash_keys(teacher_global, teacher_hypercolumn)
        losses['alpha'] = self.alpha.detach().clone()
        return losses
