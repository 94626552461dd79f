"""k-means clustering of a backbone's pooled features: NMI, AMI, ARI, Hungarian accuracy.

k-means is fitted on the config's train (fit) set and assigns its test (else val) set,
whose clusters are scored against its labels; see ``--help``.
"""
import argparse
import json
from typing import Dict, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.metrics.cluster import contingency_matrix

from cgh_mm.evaluation.feature_sets import add_feature_arguments, feature_sets_from_args
from cgh_mm.runtime import write_file_atomically


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
    labels_true, labels_pred = _label_pair(labels_true, labels_pred)
    counts = contingency_matrix(labels_pred, labels_true)  # (clusters, classes)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / labels_true.size


def clustering_metrics(labels_true, labels_pred) -> Dict[str, float]:
    """NMI, AMI, ARI (scikit-learn) and Hungarian accuracy of ``(N,)`` integer labels;
    each in ``[0, 1]`` (ARI and AMI can be slightly negative)."""
    labels_true, labels_pred = _label_pair(labels_true, labels_pred)
    return dict(
        nmi=float(metrics.normalized_mutual_info_score(labels_true, labels_pred)),
        ami=float(metrics.adjusted_mutual_info_score(labels_true, labels_pred)),
        ari=float(metrics.adjusted_rand_score(labels_true, labels_pred)),
        acc=hungarian_accuracy(labels_true, labels_pred))


def main() -> None:
    parser = argparse.ArgumentParser(description='k-means evaluation of features')
    add_feature_arguments(parser)
    parser.add_argument('--num-clusters', type=int, help='k of k-means (default: classes)')
    parser.add_argument('--seed', type=int, default=0, help='seed of k-means')
    parser.add_argument('--n-init', type=int, default=10, help='k-means restarts')
    args = parser.parse_args()
    sets = feature_sets_from_args(args)  # on --device; k-means: scikit-learn, on the CPU
    num_clusters = args.num_clusters or sets['num_classes']
    if not 2 <= num_clusters <= len(sets['train_features']):
        parser.error(f'--num-clusters must be in [2, {len(sets["train_features"])}] '
                     f'(fit samples), got {num_clusters}.')
    kmeans = KMeans(n_clusters=num_clusters, n_init=args.n_init, random_state=args.seed)
    kmeans.fit(sets['train_features'].double().numpy())
    clusters = kmeans.predict(sets['test_features'].double().numpy())
    scores = clustering_metrics(sets['test_labels'].numpy(), clusters)
    print(f"k-means (scikit-learn, CPU), k={num_clusters}, fit on "
          f"{len(sets['train_labels'])}, scored on {len(sets['test_labels'])} samples\n"
          + ' | '.join(f'{name.upper():>6}' for name in scores) + '\n'
          + ' | '.join(f'{value:6.4f}' for value in scores.values()))
    if args.out:
        write_file_atomically(args.out, json.dumps(dict(
            num_clusters=num_clusters, weights=args.weights, seed=args.seed, **scores),
            indent=2).encode())


if __name__ == '__main__':
    main()
