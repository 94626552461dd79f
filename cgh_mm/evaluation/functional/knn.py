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
    ``exp(cosine similarity / temperature)``.

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
        scores.append((votes * (top_sim / temperature).exp().unsqueeze(-1)).sum(dim=1))
    return torch.cat(scores)


def weighted_knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                          test_labels: Tensor, num_classes: int, ks: Sequence[int] = (20, ),
                          temperature: float = 0.07) -> Dict[int, float]:
    """Top-1 accuracy (percent) of :func:`weighted_knn_predict` for each ``k``, on
    features L2-normalised here."""
    train_features = F.normalize(train_features.float(), dim=1)
    test_features = F.normalize(test_features.float(), dim=1)
    return {int(k): 100.0 * (weighted_knn_predict(
        train_features, train_labels, test_features, num_classes, k, temperature).argmax(1)
        == test_labels.long()).float().mean().item() for k in ks}
