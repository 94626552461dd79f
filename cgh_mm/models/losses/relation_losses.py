"""Pure loss functions of CGH: relations against a memory queue.

Every function takes tensors and returns a tensor; none holds state. Shapes use
``N`` for the batch, ``C`` for the embedding size and ``K`` for the queue length.
Queues are stored ``C x K`` (one column per past image), as in the paper.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def relation_logits(embeddings: Tensor, queue: Tensor) -> Tensor:
    """Similarities of each embedding to every slot of a queue.

    Args:
        embeddings: ``(N, C)`` L2-normalised embeddings.
        queue: ``(C, K)`` L2-normalised queue, possibly in a lower precision.

    Returns:
        ``(N, K)`` cosine similarities in float32, so that the softmax and
        log-softmax that follow never run in half precision.
    """
    return torch.matmul(embeddings.to(queue.dtype), queue).float()


def soft_target_cross_entropy(target_probs: Tensor, logits: Tensor) -> Tensor:
    """Cross-entropy between a target distribution and predicted logits.

    ``mean_n( -sum_k target_probs[n, k] * log_softmax(logits)[n, k] )``

    Args:
        target_probs: ``(N, K)`` rows that sum to one. Treated as constants.
        logits: ``(N, K)`` un-normalised scores of the student.

    Returns:
        Scalar tensor. Equals the entropy of ``target_probs`` when
        ``softmax(logits) == target_probs``.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    return -(target_probs.detach().float() * log_probs).sum(dim=1).mean()


def cross_context_loss(student_logits: Tensor, teacher_logits: Tensor,
                       student_temp: float, teacher_temp: float) -> Tensor:
    """Relation distillation from one context of the teacher to another of the student.

    ``CE(softmax(teacher_logits / teacher_temp), student_logits / student_temp)``

    Args:
        student_logits: ``(N, K)`` student relations to a queue (with gradient).
        teacher_logits: ``(N, K)`` teacher relations to the aligned queue.
        student_temp: temperature of the student distribution.
        teacher_temp: temperature of the (sharper) teacher distribution.

    Returns:
        Scalar tensor; no gradient flows into ``teacher_logits``.
    """
    target = F.softmax(teacher_logits.detach().float() / teacher_temp, dim=1)
    return soft_target_cross_entropy(target, student_logits / student_temp)


def info_nce(query: Tensor, key: Tensor, negative_logits: Tensor,
             temperature: float) -> Tensor:
    """InfoNCE of MoCo: the key of the same image against the queue's negatives.

    Args:
        query: ``(N, C)`` L2-normalised student embeddings (with gradient).
        key: ``(N, C)`` L2-normalised teacher embeddings of the same images.
        negative_logits: ``(N, K)`` similarities of ``query`` to the queue,
            i.e. :func:`relation_logits` ``(query, queue)``; passed in so that the
            relation logits already computed for the cross-context losses are
            reused rather than recomputed.
        temperature: softmax temperature (0.2 in CGH).

    Returns:
        Scalar tensor: cross-entropy with the positive at index 0.
    """
    positive = (query.float() * key.detach().float()).sum(dim=1, keepdim=True)
    logits = torch.cat([positive, negative_logits.float()], dim=1) / temperature
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, labels)


def loss_warmup_alpha(iteration: int, warmup_iters: int) -> float:
    """Weight of the cross-context losses during the InfoNCE warm-up.

    ``alpha = iteration / warmup_iters`` for ``iteration < warmup_iters``, then 1.
    Derived from the iteration counter alone, so a resumed run gets the same value.
    """
    if iteration < 0:
        raise ValueError(f'iteration must be >= 0, got {iteration}')
    if warmup_iters <= 0:
        return 1.0
    return min(1.0, iteration / warmup_iters)
