import math
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from ..losses import (
    entropy_fraction,
    info_nce,
    mean_pairwise_cosine,
    relation_logits,
    relation_target,
    soft_target_cross_entropy,
)


@MODELS.register_module()
class CrossContextHead(BaseModule):
    """Cross-context losses of CGH, and the health of their targets.

    The teacher's global relations teach the student's hypercolumn relations
    (``loss_hyper``) and the teacher's hypercolumn relations teach the student's
    global relations (``loss_global``). During the warm-up, InfoNCE per context
    (``loss_nce``) fades out as ``alpha`` goes from 0 to 1::

        total = (1 - alpha) * loss_nce
                + alpha * (hypercolumn_weight * loss_hyper + global_weight * loss_global)

    ``alpha`` is an attribute (1.0 by default) that mmpretrain's
    ``WarmupParamHook(param_name='alpha', module_name='head')`` ramps up.

    Args:
        teacher_global_temp: temperature of the teacher's global relations
            (target of ``loss_hyper``).
        student_hypercolumn_temp: temperature of the student's hypercolumn relations.
        teacher_hypercolumn_temp: temperature of the teacher's hypercolumn
            relations (target of ``loss_global``).
        student_global_temp: temperature of the student's global relations.
        nce_temp: temperature of the warm-up InfoNCE losses.
        hypercolumn_weight, global_weight: weights of ``loss_hyper`` and
            ``loss_global`` once warmed up.
        init_cfg: unused (no parameters).
    """

    def __init__(self,
                 teacher_global_temp: float = 0.04,
                 student_hypercolumn_temp: float = 0.08,
                 teacher_hypercolumn_temp: float = 0.08,
                 student_global_temp: float = 0.1,
                 nce_temp: float = 0.2,
                 hypercolumn_weight: float = 0.5,
                 global_weight: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        temps = dict(teacher_global_temp=teacher_global_temp,
                     student_hypercolumn_temp=student_hypercolumn_temp,
                     teacher_hypercolumn_temp=teacher_hypercolumn_temp,
                     student_global_temp=student_global_temp, nce_temp=nce_temp)
        for name, value in temps.items():
            if not value > 0:
                raise ValueError(f'CrossContextHead: `{name}` must be > 0, got {value}.')
            setattr(self, name, value)
        self.hypercolumn_weight = hypercolumn_weight
        self.global_weight = global_weight
        self.alpha = 1.0

    def loss(self, student_global: Tensor, student_hypercolumn: Tensor, teacher_global: Tensor,
             teacher_hypercolumn: Tensor, global_queue: Tensor, hypercolumn_queue: Tensor,
             local_student_global: Sequence[Tensor] = ()) -> Dict[str, Tensor]:
        """Weighted loss terms, ``alpha`` and health metrics of one step.

        Args:
            student_global, student_hypercolumn: ``(N, C)`` normalised student
                embeddings of the strong view.
            teacher_global, teacher_hypercolumn: ``(N, C)`` normalised teacher
                embeddings of the weak view.
            global_queue, hypercolumn_queue: ``(K, C)`` aligned queues (row j of
                both is the same past image).
            local_student_global: ``(N, C)`` normalised student global embeddings
                of the multi-crop views.

        Returns:
            ``loss_nce``, ``loss_hyper``, ``loss_global`` (weighted: their sum is
            the total loss), then, for the log only, ``alpha`` and ``health/*``:
            per cross-context loss the entropy of its target as a fraction of
            ``ln K`` (1 = flat target, no signal) and its KL part (the loss minus
            that entropy; 0 = nothing left to learn), and per embedding the mean
            cosine between different images of the batch (1 = collapsed).
        """
        alpha, n = float(self.alpha), student_global.shape[0]
        # Student and teacher rows go through one product per queue: the queue, the
        # largest operand, is read once.
        *student_global_logits, teacher_global_logits = relation_logits(
            torch.cat([student_global, *local_student_global, teacher_global.detach()]),
            global_queue).split(n)
        student_hyper_logits, teacher_hyper_logits = relation_logits(
            torch.cat([student_hypercolumn, teacher_hypercolumn.detach()]),
            hypercolumn_queue).split(n)
        # loss_hyper learns the teacher's global relations, loss_global its hypercolumn ones.
        hyper_target = relation_target(teacher_global_logits, self.teacher_global_temp)
        global_target = relation_target(teacher_hyper_logits, self.teacher_hypercolumn_temp)
        loss_hyper = soft_target_cross_entropy(
            hyper_target, student_hyper_logits / self.student_hypercolumn_temp)
        global_terms = [soft_target_cross_entropy(global_target, logits / self.student_global_temp)
                        for logits in student_global_logits]  # main view, then local crops
        loss_nce = loss_hyper.new_zeros(())  # weight 0 after the warm-up: not computed
        if alpha < 1:
            loss_nce = (info_nce(student_global, teacher_global, student_global_logits[0],
                                 self.nce_temp) +
                        info_nce(student_hypercolumn, teacher_hypercolumn,
                                 student_hyper_logits, self.nce_temp))

        hyper_entropy, global_entropy = map(entropy_fraction, (hyper_target, global_target))
        log_k = math.log(global_queue.shape[0])
        return {
            'loss_nce': (1 - alpha) * loss_nce,
            'loss_hyper': alpha * self.hypercolumn_weight * loss_hyper,
            'loss_global': alpha * self.global_weight * torch.stack(global_terms).mean(),
            'alpha': loss_hyper.new_tensor(alpha),
            'health/hyper_target_entropy': hyper_entropy,
            'health/global_target_entropy': global_entropy,
            'health/hyper_kl': loss_hyper.detach() - hyper_entropy * log_k,
            'health/global_kl': global_terms[0].detach() - global_entropy * log_k,
            'health/student_global_cos': mean_pairwise_cosine(student_global),
            'health/student_hyper_cos': mean_pairwise_cosine(student_hypercolumn),
            'health/teacher_global_cos': mean_pairwise_cosine(teacher_global),
            'health/teacher_hyper_cos': mean_pairwise_cosine(teacher_hypercolumn),
        }
