from typing import Dict

import numpy as np
from scipy.optimize import linear_sum_assignment


def _as_label_array(labels, name: str) -> np.ndarray:
    array = np.asarray(labels).reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f'{name} must hold integer labels, got dtype {array.dtype}.')
    return array.astype(np.int64)


def hungarian_accuracy(labels_true, labels_pred) -> float:
    """Accuracy of a clustering after the best one-to-one cluster -> class matching.

    Args:
        labels_true: ``(N,)`` integer class labels.
        labels_pred: ``(N,)`` integer cluster ids (any numbering, any count).

    Returns:
        Fraction in ``[0, 1]`` of samples whose matched cluster is their class;
        clusters left unmatched (more clusters than classes) count as wrong.
    """
    labels_true = _as_label_array(labels_true, 'labels_true')
    labels_pred = _as_label_array(labels_pred, 'labels_pred')
    if labels_true.shape != labels_pred.shape or labels_true.size == 0:
        raise ValueError('labels_true and labels_pred must be non-empty and of the same '
                         f'length, got {labels_true.size} and {labels_pred.size}.')
    _, true_idx = np.unique(labels_true, return_inverse=True)
    _, pred_idx = np.unique(labels_pred, return_inverse=True)
    # counts[c, t]: samples of cluster c in class t
    counts = np.zeros((pred_idx.max() + 1, true_idx.max() + 1), dtype=np.int64)
    np.add.at(counts, (pred_idx, true_idx), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / labels_true.size


def clustering_metrics(labels_true, labels_pred) -> Dict[str, float]:
    """NMI, AMI, ARI (scikit-learn) and Hungarian accuracy, each in ``[0, 1]``
    (ARI and AMI can be slightly negative for worse-than-chance clusterings).

    Args:
        labels_true: ``(N,)`` integer class labels.
        labels_pred: ``(N,)`` integer cluster ids.
    """
    # scikit-learn is imported here so that `import cgh_mm` does not need it.
    from sklearn import metrics

    labels_true = _as_label_array(labels_true, 'labels_true')
    labels_pred = _as_label_array(labels_pred, 'labels_pred')
    return dict(
        nmi=float(metrics.normalized_mutual_info_score(labels_true, labels_pred)),
        ami=float(metrics.adjusted_mutual_info_score(labels_true, labels_pred)),
        ari=float(metrics.adjusted_rand_score(labels_true, labels_pred)),
        acc=hungarian_accuracy(labels_true, labels_pred))
