"""Pure functions of CGH: relations to a memory queue, their targets and health.
The losses on them are mmpretrain's (``soft_cross_entropy``, ``ContrastiveHead``).

Shapes: ``N`` batch, ``C`` embedding size, ``K`` queue length. A queue is
``(K, C)``: one L2-normalised row per past image.
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor


def relation_logits(embeddings: Tensor, queue: Tensor) -> Tensor:
    """Cosine similarity of each embedding to every slot of a queue.

    Args:
        embeddings: ``(N, C)`` L2-normalised; the gradient flows to them.
        queue: ``(K, C)`` L2-normalised, possibly float16/bfloat16 (then read
            into a transient float32 copy).

    Returns:
        ``(N, K)`` float32 products of float32 operands, whatever the autocast
        state: under AMP a half-precision product would round every logit, and
        the teacher's temperature (0.04) multiplies that error by 25 in the
        targets.
    """
    with torch.autocast(device_type=embeddings.device.type, enabled=False):
        return embeddings.float() @ queue.float().T


def relation_target(teacher_logits: Tensor, teacher_temp: float) -> Tensor:
    """``softmax(teacher_logits / teacher_temp)``: ``(N, K)`` float32, no gradient."""
    return F.softmax(teacher_logits.detach().float() / teacher_temp, dim=1)


def entropy_fraction(probs: Tensor) -> Tensor:
    """Mean entropy of the rows of ``probs`` as a fraction of ``ln K``.

    Args:
        probs: ``(N, K)`` rows summing to one, ``K > 1``.

    Returns:
        Scalar in ``[0, 1]``: 1 for uniform rows (targets that carry no
        information), 0 for one-hot rows.
    """
    probs = probs.detach().float()
    log_probs = probs.clamp_min(torch.finfo(probs.dtype).tiny).log()  # 0 log 0 = 0
    return -(probs * log_probs).sum(1).mean() / math.log(probs.shape[1])


def mean_pairwise_cosine(embeddings: Tensor) -> Tensor:
    """Mean cosine similarity between the different rows of a batch.

    Uses ``sum_{i != j} z_i . z_j = |sum_i z_i|^2 - N`` for unit rows: no
    ``N x N`` product.

    Args:
        embeddings: ``(N, C)`` L2-normalised, ``N > 1``.

    Returns:
        Scalar in ``[-1/(N-1), 1]``; 1 means every row is the same vector.
    """
    z = embeddings.detach().float()
    n = z.shape[0]
    return (z.sum(0).square().sum() - n) / (n * (n - 1))
