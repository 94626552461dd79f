"""Agreement of two relation distributions ``(N, K)`` over the same queue slots."""
import torch
import torch.nn.functional as F
from torch import Tensor


def _check_pair(p: Tensor, q: Tensor) -> None:
    if p.shape != q.shape or p.dim() != 2:
        raise ValueError(f'expected two (N, K) distributions of one shape, got '
                         f'{tuple(p.shape)} and {tuple(q.shape)}.')


def kl_divergence(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    """``KL(p || q)`` of each row, ``(N,)`` in nats. ``q`` is floored at ``eps`` so
    that a slot where only ``q`` is 0 gives a large finite value, not infinity."""
    _check_pair(p, q)
    return F.kl_div(q.double().clamp_min(eps).log(), p.double(),
                    reduction='none').sum(dim=1).float()


def topk_overlap(p: Tensor, q: Tensor, k: int) -> Tensor:
    """``(N,)`` fraction of the ``k`` highest slots of ``p`` also among ``q``'s."""
    _check_pair(p, q)
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f'k must be in [1, {p.shape[1]}] (the queue length), got {k}.')
    top_q = torch.zeros_like(q, dtype=torch.bool).scatter_(1, q.topk(k, dim=1).indices, True)
    return top_q.gather(1, p.topk(k, dim=1).indices).sum(dim=1).float() / k
