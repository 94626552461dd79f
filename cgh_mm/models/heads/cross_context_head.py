import math
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.models.heads import ContrastiveHead
from mmpretrain.models.losses.cross_entropy_loss import soft_cross_entropy
from mmpretrain.registry import MODELS
from torch import Tensor

from ..losses import entropy_fraction, mean_pairwise_cosine, relation_logits, relation_target

TEACHING = ('cross', 'same', 'global')  # who teaches whom: see CrossContextHead


@MODELS.register_module()
class CrossContextHead(BaseModule):
    """Cross-context losses of CGH, and the health of their targets.

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
        alpha, n = self._alpha, student_global.shape[0]
        with_hyper = self.teaching != 'global'
        # Student and teacher rows go through one product per queue: the queue, the
        # largest operand, is read once.
        *student_global_logits, teacher_global_logits = relation_logits(
            torch.cat([student_global, *local_student_global, teacher_global.detach()]),
            global_queue).split(n)
        # The teacher's relations of each context, at that context's temperature.
        global_relations = relation_target(teacher_global_logits, self.teacher_global_temp)
        hyper_relations = None
        if with_hyper:
            student_hyper_logits, teacher_hyper_logits = relation_logits(
                torch.cat([student_hypercolumn, teacher_hypercolumn.detach()]),
                hypercolumn_queue).split(n)
            hyper_relations = relation_target(teacher_hyper_logits,
                                              self.teacher_hypercolumn_temp)
        cross = self.teaching == 'cross'
        global_target = hyper_relations if cross else global_relations
        global_terms = [soft_cross_entropy(logits / self.student_global_temp, global_target)
                        for logits in student_global_logits]  # main view, then local crops
        nce = [] if not self._with_nce else [  # weight 0 after the warm-up: not computed
            self._info_nce(student_global, teacher_global, student_global_logits[0])]
        # name: (weighted loss, its target, its unweighted main-view term, student, teacher)
        terms = {'global': (self.global_weight * torch.stack(global_terms).mean(),
                            global_target, global_terms[0], student_global, teacher_global)}
        if with_hyper:
            hyper_target = global_relations if cross else hyper_relations
            loss_hyper = soft_cross_entropy(
                student_hyper_logits / self.student_hypercolumn_temp, hyper_target)
            terms = {'hyper': (self.hypercolumn_weight * loss_hyper, hyper_target, loss_hyper,
                               student_hypercolumn, teacher_hypercolumn), **terms}
            if self._with_nce:
                nce.append(self._info_nce(student_hypercolumn, teacher_hypercolumn,
                                          student_hyper_logits))

        log_k = math.log(global_queue.shape[0])
        out = {'loss_nce': (1 - alpha) * sum(nce, global_terms[0].new_zeros(()))}
        health = {}
        for name, (loss, target, main_term, student, teacher) in terms.items():
            out[f'loss_{name}'] = alpha * loss
            entropy = entropy_fraction(target)
            health.update({
                f'health/{name}_target_entropy': entropy,
                f'health/{name}_kl': main_term.detach() - entropy * log_k,
                f'health/student_{name}_cos': mean_pairwise_cosine(student),
                f'health/teacher_{name}_cos': mean_pairwise_cosine(teacher),
            })
        return {**out, 'alpha': alpha.clone(), **health}

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
