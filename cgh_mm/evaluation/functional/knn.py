from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def weighted_knn_predict(train_features: Tensor, train_labels: Tensor,
                         test_features: Tensor, num_classes: int, k: int = 20,
                         temperature: float = 0.07, chunk_size: int = 256) -> Tensor:
    """Class scores of a DINO-style weighted k-nearest-neighbour classifier.

    Each of the ``k`` nearest training samples (cosine similarity ``s``) votes for
    its class with weight ``exp(s / temperature)``.

    Args:
        train_features: ``(M, D)`` L2-normalised features.
        train_labels: ``(M,)`` integer labels in ``[0, num_classes)``.
        test_features: ``(N, D)`` L2-normalised features.
        num_classes: number of classes.
        k: neighbours; clipped to ``M``.
        temperature: temperature of the vote weights.
        chunk_size: test samples scored at once (bounds memory to ``chunk x M``).

    Returns:
        ``(N, num_classes)`` vote scores; ``argmax`` is the prediction.
    """
    if train_features.shape[0] != train_labels.shape[0]:
        raise ValueError(f'{train_features.shape[0]} train features but '
                         f'{train_labels.shape[0]} labels.')
    k = min(k, train_features.shape[0])
    train_features = train_features.float()
    train_labels = train_labels.long()
    scores = []
    for start in range(0, test_features.shape[0], chunk_size):
        sim = test_features[start:start + chunk_size].float() @ train_features.T
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = F.one_hot(train_labels[top_idx], num_classes).float()
        scores.append((votes * weights.unsqueeze(-1)).sum(dim=1))
    return torch.cat(scores, dim=0)


@torch.no_grad()
def weighted_knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                          test_labels: Tensor, num_classes: int, ks: Sequence[int] = (20, ),
                          temperature: float = 0.07) -> Dict[int, float]:
    """Top-1 accuracy (percent) of :func:`weighted_knn_predict` for each ``k``."""
    train_features = F.normalize(train_features.float(), dim=1)
    test_features = F.normalize(test_features.float(), dim=1)
    results = {}
    for k in ks:
        scores = weighted_knn_predict(train_features, train_labels, test_features, num_classes,
                                      k=k, temperature=temperature)
        correct = (scores.argmax(dim=1) == test_labels.long()).float().mean().item()
        results[int(k)] = 100.0 * correct
    return results
