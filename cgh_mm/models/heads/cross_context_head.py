import math
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.models.heads import ContrastiveHead
from mmpretrain.models.losses.cross_entropy_loss import soft_cross_entropy
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils import entropy_fraction, mean_pairwise_cosine, relation_logits, relation_target

TEACHING = ('cross', 'same', 'global')  # who teaches whom: see CrossContextHead


@MODELS.register_module()
class CrossContextHead(BaseModule):
    """Gives CGH its losses: both cross-context relational losses and the InfoNCE warm-up.

    It also computes the health of their targets, for the log.

    The teacher's global relations teach the student's hypercolumn relations
    (``loss_hyper``) and the teacher's hypercolumn relations teach the student's
    global relations (``loss_global``). During the warm-up, InfoNCE per context
    (``loss_nce``) fades out as ``alpha`` goes from 0 to 1::

        total = (1 - alpha) * loss_nce
                + alpha * (hypercolumn_weight * loss_hyper + global_weight * loss_global)

    ``alpha`` is an attribute that mmpretrain's
    ``WarmupParamHook(param_name='alpha', module_name='head')`` ramps up from 0 to its
    initial value; without that hook it stays at its initial value (``alpha=0``: InfoNCE
    for the whole schedule, a control run).

    ``teaching`` chooses who teaches whom, for ablations. Each temperature belongs to a
    (role, context) pair and stays with it; only the pairing changes:

    - ``'cross'`` (CGH): as above;
    - ``'same'``: each context teaches itself;
    - ``'global'``: global relations only, ReSSL-style; the algorithm then builds no
      hypercolumn branch and passes None for it, and only ``loss_global`` and the
      global InfoNCE remain.

    Args:
        teacher_global_temp, student_hypercolumn_temp, teacher_hypercolumn_temp,
            student_global_temp: temperature of the relations of that role and context.
        nce_temp: temperature of the warm-up InfoNCE losses.
        hypercolumn_weight, global_weight: weights of ``loss_hyper`` and
            ``loss_global`` once warmed up, each >= 0.
        teaching: ``'cross'``, ``'same'`` or ``'global'`` (see above).
        alpha: initial (and, with the warm-up hook, final) weight of the relational
            losses; 1 in the paper's recipe, 0 for the InfoNCE-only control.
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
                 teaching: str = 'cross',
                 alpha: float = 1.0,
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
        if teaching not in TEACHING:
            raise ValueError(f'CrossContextHead: `teaching` must be one of {TEACHING}, '
                             f'got {teaching!r}.')
        if not 0 <= alpha <= 1:
            raise ValueError(f'CrossContextHead: `alpha` must be in [0, 1], got {alpha}.')
        for name, value in dict(hypercolumn_weight=hypercolumn_weight,
                                global_weight=global_weight).items():
            if not 0 <= value < math.inf:  # a negative weight would maximise its loss
                raise ValueError(f'CrossContextHead: `{name}` must be finite and >= 0, got '
                                 f'{value}.')
        self.hypercolumn_weight = hypercolumn_weight
        self.global_weight = global_weight
        self.teaching = teaching
        self.nce_head = ContrastiveHead(dict(type='CrossEntropyLoss'), temperature=nce_temp)
        self.register_buffer('_alpha', torch.tensor(1.0), persistent=False)
        self.alpha = alpha

    @property
    def alpha(self) -> float:
        """Weight of the relational losses (see above); the warm-up hook sets it."""
        return self._alpha_value

    @alpha.setter
    def alpha(self, value: float) -> None:
        # Held on the device for the loss and its warm-up state as a flag: a compiled step
        # reads each iteration's value without being recompiled for it.
        self._alpha_value = float(value)
        self._alpha.fill_(self._alpha_value)
        self._with_nce = self._alpha_value < 1

    @property
    def computes_nce(self) -> bool:
        """Whether ``loss_nce`` is computed (``alpha < 1``); once not, it is 0."""
        return self._with_nce

    def loss(self, student_global: Tensor, student_hypercolumn: Optional[Tensor],
             teacher_global: Tensor, teacher_hypercolumn: Optional[Tensor],
             global_queue: Tensor, hypercolumn_queue: Optional[Tensor],
             local_student_global: Sequence[Tensor] = ()) -> Dict[str, Tensor]:
        """Weighted loss terms, ``alpha`` and health metrics of one step.

        Args:
            student_global, student_hypercolumn, teacher_global, teacher_hypercolumn:
                ``(N, C)`` normalised embeddings, the student's of the strong view, the
                teacher's of the weak view.
            global_queue, hypercolumn_queue: ``(K, C)`` aligned queues (row j of
                both is the same past image).
            local_student_global: ``(N, C)`` normalised student global embeddings
                of the multi-crop views.
            The hypercolumn arguments are None (and ignored) with ``teaching='global'``.

        Returns:
            ``loss_nce``, ``loss_hyper`` (not with ``teaching='global'``),
            ``loss_global`` (weighted: their sum is the total loss), then, for the log
            only, ``alpha`` and ``health/*``: per relational loss the entropy of its
            target as a fraction of ``ln K`` (1 = flat target, no signal) and its KL part
            (the loss minus that entropy; 0 = nothing left to learn), and per embedding
            the mean cosine between different images of the batch (1 = collapsed).
        """
        n, with_hyper = student_global.shape[0], self.teaching != 'global'
        # Relation logits (N, K) of student and teacher rows in one product per queue: the
        # queue, the largest operand, is read once.
        *student_global_logits, teacher_global_logits = relation_logits(
            torch.cat([student_global, *local_student_global, teacher_global.detach()]),
            global_queue).split(n)
        student_hyper_logits, teacher_hyper_logits = relation_logits(
            torch.cat([student_hypercolumn, teacher_hypercolumn.detach()]),
            hypercolumn_queue).split(n) if with_hyper else (None, None)

        # The teacher's relations, each context at its own temperature, and who teaches whom.
        global_relations = relation_target(teacher_global_logits, self.teacher_global_temp)
        hyper_relations = relation_target(
            teacher_hyper_logits, self.teacher_hypercolumn_temp) if with_hyper else None
        if self.teaching == 'cross':  # CGH: each context teaches the other
            hyper_target, global_target = global_relations, hyper_relations
        else:  # 'same', 'global': each context teaches itself
            hyper_target, global_target = hyper_relations, global_relations

        # loss_hyper = CE(softmax(k_g Q_g / 0.04), q_h Q_h / 0.08): global teaches hypercolumn
        loss_hyper = soft_cross_entropy(student_hyper_logits / self.student_hypercolumn_temp,
                                        hyper_target) if with_hyper else None
        # loss_global = CE(softmax(k_h Q_h / 0.08), q_g Q_g / 0.1): hypercolumn teaches
        # global, on the main view and, averaged with it, on each local crop
        global_terms = [soft_cross_entropy(logits / self.student_global_temp, global_target)
                        for logits in student_global_logits]
        loss_global = torch.stack(global_terms).mean()
        # loss_nce = InfoNCE(q_g; k_g, Q_g) + InfoNCE(q_h; k_h, Q_h), in the warm-up only
        loss_nce = global_terms[0].new_zeros(())
        if self._with_nce:
            loss_nce = self._info_nce(student_global, teacher_global, student_global_logits[0]) + (
                self._info_nce(student_hypercolumn, teacher_hypercolumn, student_hyper_logits)
                if with_hyper else 0)

        alpha = self._alpha
        out = {'loss_nce': (1 - alpha) * loss_nce}
        if with_hyper:
            out['loss_hyper'] = alpha * (self.hypercolumn_weight * loss_hyper)
        out.update(loss_global=alpha * (self.global_weight * loss_global), alpha=alpha.clone())
        if with_hyper:
            out.update(relation_health('hyper', hyper_target, loss_hyper, student_hypercolumn,
                                       teacher_hypercolumn))
        out.update(relation_health('global', global_target, global_terms[0], student_global,
                                   teacher_global))
        return out

    def _info_nce(self, query: Tensor, key: Tensor, negative_logits: Tensor) -> Tensor:
        """MoCo's InfoNCE of ``query`` ``(N, C)`` (student) against ``key`` ``(N, C)``
        (teacher, same images) and the queue's ``negative_logits`` ``(N, K)``, all on
        float32 logits like the relations (the positive too, under autocast)."""
        positive = (query.float() * key.detach().float()).sum(dim=1, keepdim=True)
        # mmpretrain's ContrastiveHead.loss, with the labels (the positive, column 0) made
        # on the device rather than copied there from the host at every step
        logits = torch.cat((positive, negative_logits), dim=1)
        logits /= self.nce_head.temperature
        labels = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return self.nce_head.loss_module(logits, labels)


def relation_health(name: str, target: Tensor, loss: Tensor, student: Tensor,
                    teacher: Tensor) -> Dict[str, Tensor]:
    """The log's ``health/*`` of one relational loss, from the tensors of that loss.

    Args:
        name: ``'hyper'`` or ``'global'``, the loss's context.
        target: ``(N, K)`` teacher relations the loss learns.
        loss: the loss's unweighted main-view term (scalar): the cross-entropy of
            ``target`` and the student relations.
        student, teacher: ``(N, C)`` normalised embeddings of that context.

    Returns:
        ``health/{name}_target_entropy``: target entropy as a fraction of ``ln K`` (1: a
        flat target, no signal); ``health/{name}_kl``: the loss minus that entropy, in
        nats (0: nothing left to learn); ``health/{student,teacher}_{name}_cos``: mean
        cosine between different images of the batch (1: collapsed).
    """
    entropy = entropy_fraction(target)
    return {
        f'health/{name}_target_entropy': entropy,
        f'health/{name}_kl': loss.detach() - entropy * math.log(target.shape[1]),
        f'health/student_{name}_cos': mean_pairwise_cosine(student),
        f'health/teacher_{name}_cos': mean_pairwise_cosine(teacher),
    }
