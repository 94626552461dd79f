"""The clustering scores of tools/analysis/cluster_eval.py."""
import numpy as np
import pytest

from tests.helpers import load_tool, raises_stating

from ..dist_helpers import REPO

cluster_eval = load_tool(REPO / 'tools' / 'analysis' / 'cluster_eval.py', 'cluster_eval')
clustering_metrics, hungarian_accuracy = cluster_eval.clustering_metrics, \
    cluster_eval.hungarian_accuracy


def test_permuted_perfect_clustering_scores_one():
    pytest.importorskip('sklearn')
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([5, 5, 0, 0, 3, 3, 3])  # same partition, other ids
    scores = clustering_metrics(labels, clusters)
    for name in ('nmi', 'ami', 'ari', 'acc'):
        assert scores[name] == pytest.approx(1.0)


def test_hungarian_matching_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1])
    # cluster 1 = {0,0,1}, cluster 0 = {0,1,1}: best matching 1->0, 0->1, 4 of 6 right
    clusters = np.array([1, 1, 0, 1, 0, 0])
    assert hungarian_accuracy(labels, clusters) == pytest.approx(4 / 6)


def test_more_clusters_than_classes_counts_unmatched_as_wrong():
    labels = np.array([0, 0, 1, 1])
    clusters = np.array([0, 1, 2, 2])
    assert hungarian_accuracy(labels, clusters) == pytest.approx(3 / 4)


def test_single_cluster_has_zero_information():
    pytest.importorskip('sklearn')
    labels = np.array([0, 1, 0, 1])
    scores = clustering_metrics(labels, np.zeros(4, dtype=int))
    assert scores['nmi'] == pytest.approx(0.0)
    assert scores['ari'] == pytest.approx(0.0)
    assert scores['acc'] == pytest.approx(0.5)


def test_bad_input_is_named():
    with raises_stating(ValueError, 'labels_true', 'labels_pred', 'got 2 and 1'):
        hungarian_accuracy([0, 1], [0])
    with raises_stating(ValueError, 'labels_true', 'integer', 'float64'):
        hungarian_accuracy([0.5, 1.0], [0, 1])
