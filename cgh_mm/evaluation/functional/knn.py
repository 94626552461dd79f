from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def weighted_knn_predict(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                         num_classes: int, k: int = 20, temperature: float = 0.07,
                         chunk_size: int = 256) -> Tensor:
    """Class scores ``(N, num_classes)`` of a DINO-style weighted kNN classifier: each of
    the ``k`` (at most ``M``) nearest train samples votes for its class with weight
    ``exp(cosine similarity / temperature)``, divided by the nearest sample's weight.

    That common factor per test sample leaves the ranking of the classes unchanged and
    keeps every weight in ``(0, 1]``: ``exp(1 / temperature)`` itself overflows float32
    below ``temperature`` ~ 0.0113, where the votes turned into ``inf`` and ``0 x inf``
    into NaN.

    Args:
        train_features: ``(M, D)`` and test_features ``(N, D)``, L2-normalised.
        train_labels: ``(M,)`` integers in ``[0, num_classes)``.
        chunk_size: test samples scored at once (memory ``chunk_size x M``).
    """
    if train_features.shape[0] != train_labels.shape[0]:
        raise ValueError(f'{train_features.shape[0]} train features but '
                         f'{train_labels.shape[0]} labels.')
    k = min(k, train_features.shape[0])
    scores = []
    for chunk in test_features.float().split(chunk_size):
        top_sim, top_idx = (chunk @ train_features.float().T).topk(k, dim=1)
        votes = F.one_hot(train_labels.long()[top_idx], num_classes).float()
        # topk sorts: column 0 is the largest similarity of each row
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()
        scores.append((votes * weights.unsqueeze(-1)).sum(dim=1))
    return torch.cat(scores)


def weighted_knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                          test_labels: Tensor, num_classes: int, ks: Sequence[int] = (20, ),
                          temperature: float = 0.07) -> Dict[int, float]:
    """Top-1 accuracy (percent) of :func:`weighted_knn_predict` on features L2-normalised
    here, keyed by the ``k`` used: each of ``ks`` clamped to the ``M`` train samples (so
    ``ks=(10, 200)`` with ``M=24`` gives the keys 10 and 24)."""
    train_features = F.normalize(train_features.float(), dim=1)
    test_features = F.normalize(test_features.float(), dim=1)
    used = dict.fromkeys(min(int(k), train_features.shape[0]) for k in ks)
    return {k: 100.0 * (weighted_knn_predict(
        train_features, train_labels, test_features, num_classes, k, temperature).argmax(1)
        == test_labels.long()).float().mean().item() for k in used}
