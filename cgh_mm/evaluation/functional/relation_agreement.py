"""Agreement between two relation distributions over the same queue slots."""
import torch
from torch import Tensor


def relation_distribution(embeddings: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """Softmax similarity of each embedding to every queue slot.

    Args:
        embeddings: ``(N, C)``, L2-normalised.
        queue: ``(K, C)``, one L2-normalised row per slot (CGH's in-memory
            layout; pass ``queue.T`` for a checkpoint's ``(C, K)`` tensor).
        temperature: softmax temperature (e.g. the teacher's 0.04 or 0.08).

    Returns:
        ``(N, K)`` float32, each row sums to 1.
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}.')
    if embeddings.shape[1] != queue.shape[1]:
        raise ValueError(f'embeddings are {embeddings.shape[1]}-d but the queue holds '
                         f'{queue.shape[1]}-d rows; the queue must be (K, C).')
    logits = embeddings.float() @ queue.float().T
    return torch.softmax(logits / temperature, dim=1)


def _check_pair(p: Tensor, q: Tensor) -> None:
    if p.shape != q.shape or p.dim() != 2:
        raise ValueError(f'expected two (N, K) distributions of one shape, got '
                         f'{tuple(p.shape)} and {tuple(q.shape)}.')


def kl_divergence(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    """``KL(p || q)`` per row, in nats.

    Args:
        p, q: ``(N, K)`` probability rows.
        eps: floor of ``q`` so that slots where ``q`` is 0 but ``p`` is not give
            a large finite value (``p * log(p / eps)``) instead of infinity.

    Returns:
        ``(N,)``; 0 where the rows are equal.
    """
    _check_pair(p, q)
    p, q = p.double(), q.double()
    # 0 * log 0 is 0: slots where p is 0 contribute nothing.
    terms = torch.where(p > 0, p * (p.clamp_min(eps).log() - q.clamp_min(eps).log()),
                        torch.zeros_like(p))
    return terms.sum(dim=1).float()


def topk_overlap(p: Tensor, q: Tensor, k: int) -> Tensor:
    """Fraction of the ``k`` most likely slots of ``p`` that are also among ``q``'s.

    Args:
        p, q: ``(N, K)`` scores or probabilities.
        k: ``1 <= k <= K``.

    Returns:
        ``(N,)`` in ``[0, 1]``: 1 when both rank the same ``k`` slots highest.
    """
    _check_pair(p, q)
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f'k must be in [1, {p.shape[1]}] (the queue length), got {k}.')
    top_p = torch.zeros_like(p, dtype=torch.bool).scatter_(1, p.topk(k, dim=1).indices, True)
    top_q = torch.zeros_like(q, dtype=torch.bool).scatter_(1, q.topk(k, dim=1).indices, True)
    return (top_p & top_q).sum(dim=1).float() / k
