import pytest
import torch
import torch.nn.functional as F

from cgh_mm.evaluation import weighted_knn_accuracy, weighted_knn_predict
from tests.helpers import raises_stating


def test_votes_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.0]])
    scores = weighted_knn_predict(train, labels, test, num_classes=2, k=2, temperature=1.0)
    # neighbours: sample 0 (sim 1.0, class 0) and sample 2 (sim 0.6, class 1), weights
    # exp(sim / T) relative to the nearest one's
    assert torch.allclose(scores, torch.tensor([[1.0, torch.exp(torch.tensor(0.6 - 1.0))]]))


def test_separable_clusters_are_classified_perfectly():
    centres = F.normalize(torch.randn(3, 16), dim=1) * 5
    train_labels = torch.arange(60) % 3
    test_labels = torch.arange(30) % 3
    train = centres[train_labels] + 0.1 * torch.randn(60, 16)
    test = centres[test_labels] + 0.1 * torch.randn(30, 16)
    acc = weighted_knn_accuracy(train, train_labels, test, test_labels, 3, ks=(1, 10, 200))
    # k=200 is clamped to the 60 train samples, and reported as such
    assert acc == {1: 100.0, 10: 100.0, 60: pytest.approx(100.0)}
    shuffled = weighted_knn_accuracy(train, train_labels[torch.randperm(60)], test,
                                     test_labels, 3, ks=(10, ))
    assert shuffled[10] < 80.0


@pytest.mark.parametrize('temperature', [0.01, 1e-3])
def test_low_temperature_is_exact(temperature):
    # exp(1 / T) overflows float32 below T ~ 0.0113: the votes were inf, 0 x inf NaN and
    # argmax picked the NaN class (0 % on these separable features)
    train_labels = torch.arange(30) % 3
    test_labels = torch.arange(12) % 3
    gen = torch.Generator().manual_seed(0)
    train = F.one_hot(train_labels, 8).float() + 0.05 * torch.randn(30, 8, generator=gen)
    test = F.one_hot(test_labels, 8).float() + 0.05 * torch.randn(12, 8, generator=gen)
    scores = weighted_knn_predict(F.normalize(train, dim=1), train_labels,
                                  F.normalize(test, dim=1), 3, k=5, temperature=temperature)
    assert torch.isfinite(scores).all()
    assert weighted_knn_accuracy(train, train_labels, test, test_labels, 3, ks=(1, 5, 20),
                                 temperature=temperature) == {1: 100.0, 5: 100.0, 20: 100.0}
    # by hand: a nearer neighbour of class 0 outvotes two of class 1 at any temperature
    votes = weighted_knn_predict(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6]]),
                                 torch.tensor([0, 1, 1]), torch.tensor([[1.0, 0.0]]), 2, k=3,
                                 temperature=temperature)
    expected = torch.tensor([[1.0, 2 * torch.exp(torch.tensor(-0.2 / temperature))]])
    torch.testing.assert_close(votes, expected)


def test_mismatched_labels():
    with raises_stating(ValueError, '3 train features', '2 labels'):
        weighted_knn_predict(torch.randn(3, 2), torch.tensor([0, 1]), torch.randn(1, 2), 2)
