import pytest
import torch
import torch.nn.functional as F

from cgh_mm.evaluation import weighted_knn_accuracy, weighted_knn_predict


def test_votes_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.0]])
    scores = weighted_knn_predict(train, labels, test, num_classes=2, k=2, temperature=1.0)
    # neighbours: sample 0 (sim 1.0, class 0) and sample 2 (sim 0.6, class 1)
    assert torch.allclose(scores, torch.tensor([[torch.e, torch.exp(torch.tensor(0.6))]]))


def test_separable_clusters_are_classified_perfectly():
    centres = F.normalize(torch.randn(3, 16), dim=1) * 5
    train_labels = torch.arange(60) % 3
    test_labels = torch.arange(30) % 3
    train = centres[train_labels] + 0.1 * torch.randn(60, 16)
    test = centres[test_labels] + 0.1 * torch.randn(30, 16)
    acc = weighted_knn_accuracy(train, train_labels, test, test_labels, 3, ks=(1, 10, 200))
    assert acc == {1: 100.0, 10: 100.0, 200: pytest.approx(100.0)}
    shuffled = weighted_knn_accuracy(train, train_labels[torch.randperm(60)], test,
                                     test_labels, 3, ks=(10, ))
    assert shuffled[10] < 80.0


def test_mismatched_labels():
    with pytest.raises(ValueError, match='3 train features but 2 labels'):
        weighted_knn_predict(torch.randn(3, 2), torch.tensor([0, 1]), torch.randn(1, 2), 2)
