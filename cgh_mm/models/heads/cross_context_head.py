from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from ..losses import cross_context_loss, info_nce, paired_relation_logits


@MODELS.register_module()
class CrossContextHead(BaseModule):
    """Cross-context losses of CGH.

    The teacher's global relations teach the student's hypercolumn relations
    (``loss_hyper``) and the teacher's hypercolumn relations teach the student's
    global relations (``loss_global``). During the warm-up an InfoNCE loss per
    context (``loss_nce``) is blended out as ``alpha`` goes from 0 to 1::

        total = (1 - alpha) * loss_nce
                + alpha * (hypercolumn_weight * loss_hyper + global_weight * loss_global)

    Args:
        teacher_global_temp: temperature of the teacher's global relations (target
            of ``loss_hyper``).
        student_hypercolumn_temp: temperature of the student's hypercolumn relations.
        teacher_hypercolumn_temp: temperature of the teacher's hypercolumn relations
            (target of ``loss_global``).
        student_global_temp: temperature of the student's global relations.
        nce_temp: temperature of the warm-up InfoNCE losses.
        hypercolumn_weight: weight of ``loss_hyper`` once warmed up.
        global_weight: weight of ``loss_global`` once warmed up.
        init_cfg: unused (no parameters), kept for the registry's interface.
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
        self.teacher_global_temp = teacher_global_temp
        self.student_hypercolumn_temp = student_hypercolumn_temp
        self.teacher_hypercolumn_temp = teacher_hypercolumn_temp
        self.student_global_temp = student_global_temp
        self.nce_temp = nce_temp
        self.hypercolumn_weight = hypercolumn_weight
        self.global_weight = global_weight

    def loss(self,
             student_global: Tensor,
             student_hypercolumn: Tensor,
             teacher_global: Tensor,
             teacher_hypercolumn: Tensor,
             global_queue: Tensor,
             hypercolumn_queue: Tensor,
             alpha: float = 1.0,
             local_student_global: Sequence[Tensor] = ()) -> Dict[str, Tensor]:
        """Weighted loss terms.

        Args:
            student_global, student_hypercolumn: ``(N, C)`` normalised student
                embeddings of the strong view.
            teacher_global, teacher_hypercolumn: ``(N, C)`` normalised teacher
                embeddings of the weak view.
            global_queue, hypercolumn_queue: ``(K, C)`` aligned queues (row j of
                both is the same past image).
            alpha: warm-up progress in [0, 1].
            local_student_global: ``(N, C)`` normalised student global embeddings
                of the extra (multi-crop) views.

        Returns:
            ``loss_nce``, ``loss_hyper`` and ``loss_global``, each already
            multiplied by its weight, so their sum is the total loss.
        """
        alpha = float(alpha)
        # One GEMM per queue: the student rows (main view and local crops) and the
        # teacher rows read the queue together.
        students = [student_global, *local_student_global]
        global_logits, teacher_global_logits = paired_relation_logits(
            torch.cat(students) if len(students) > 1 else student_global, teacher_global,
            global_queue)
        student_hyper_logits, teacher_hyper_logits = paired_relation_logits(
            student_hypercolumn, teacher_hypercolumn, hypercolumn_queue)
        all_student_global_logits = global_logits.split(student_global.shape[0])
        student_global_logits = all_student_global_logits[0]

        loss_hyper = cross_context_loss(student_hyper_logits, teacher_global_logits,
                                        self.student_hypercolumn_temp,
                                        self.teacher_global_temp)
        global_terms = [
            cross_context_loss(logits, teacher_hyper_logits, self.student_global_temp,
                               self.teacher_hypercolumn_temp)
            for logits in all_student_global_logits
        ]
        loss_global = torch.stack(global_terms).mean()

        if alpha < 1.0:
            loss_nce = (
                info_nce(student_global, teacher_global, student_global_logits,
                         self.nce_temp) +
                info_nce(student_hypercolumn, teacher_hypercolumn, student_hyper_logits,
                         self.nce_temp))
        else:
            # Weight zero after the warm-up: skip the work, keep the log key.
            loss_nce = student_global.new_zeros((), dtype=torch.float32)

        return dict(
            loss_nce=(1.0 - alpha) * loss_nce,
            loss_hyper=alpha * self.hypercolumn_weight * loss_hyper,
            loss_global=alpha * self.global_weight * loss_global)
