from typing import Dict, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment


def _label_pair(labels_true, labels_pred) -> Tuple[np.ndarray, np.ndarray]:
    arrays = [np.asarray(labels).reshape(-1) for labels in (labels_true, labels_pred)]
    for array, name in zip(arrays, ('labels_true', 'labels_pred')):
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f'{name} must hold integer labels, got dtype {array.dtype}.')
    if arrays[0].shape != arrays[1].shape or arrays[0].size == 0:
        raise ValueError('labels_true and labels_pred must be non-empty and of the same '
                         f'length, got {arrays[0].size} and {arrays[1].size}.')
    return arrays[0], arrays[1]


def hungarian_accuracy(labels_true, labels_pred) -> float:
    """Fraction of ``(N,)`` samples whose cluster, matched one-to-one to a class for the
    most hits, is their class; clusters left unmatched count as wrong."""
    from sklearn.metrics.cluster import contingency_matrix

    labels_true, labels_pred = _label_pair(labels_true, labels_pred)
    counts = contingency_matrix(labels_pred, labels_true)  # (clusters, classes)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / labels_true.size


def clustering_metrics(labels_true, labels_pred) -> Dict[str, float]:
    """NMI, AMI, ARI (scikit-learn) and Hungarian accuracy of ``(N,)`` integer labels;
    each in ``[0, 1]`` (ARI and AMI can be slightly negative)."""
    from sklearn import metrics

    labels_true, labels_pred = _label_pair(labels_true, labels_pred)
    return dict(
        nmi=float(metrics.normalized_mutual_info_score(labels_true, labels_pred)),
        ami=float(metrics.adjusted_mutual_info_score(labels_true, labels_pred)),
        ari=float(metrics.adjusted_rand_score(labels_true, labels_pred)),
        acc=hungarian_accuracy(labels_true, labels_pred))
