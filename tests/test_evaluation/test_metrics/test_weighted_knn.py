import math

import torch
import torch.nn.functional as F

from cgh_mm.evaluation import WeightedKNNAccuracy
from tests.helpers import raises_stating


def _clusters(n: int, centres: torch.Tensor, noise: float = 0.05):
    labels = torch.arange(n) % centres.shape[0]
    return F.normalize(centres[labels] + noise * torch.randn(n, centres.shape[1]), dim=1), labels


def test_separable_features_score_100():
    centres = F.normalize(torch.randn(4, 16), dim=1)
    memory, memory_labels = _clusters(80, centres)
    queries, query_labels = _clusters(40, centres)
    metric = WeightedKNNAccuracy(k=20, temperature=0.07)
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    metric.set_memory_bank(memory, memory_labels)
    metric.process(None, [dict(feature=f, gt_label=label)
                          for f, label in zip(queries, query_labels)])
    assert metric.evaluate(size=40) == {'knn/top1': 100.0}


def test_shuffled_memory_labels_score_near_chance():
    centres = F.normalize(torch.randn(4, 16), dim=1)
    memory, memory_labels = _clusters(200, centres)
    queries, query_labels = _clusters(100, centres)
    metric = WeightedKNNAccuracy(k=20, temperature=0.07, prefix='monitor')
    metric.set_memory_bank(memory, memory_labels[torch.randperm(200)])
    metric.process(None, [dict(feature=f, gt_label=label)
                          for f, label in zip(queries, query_labels)])
    top1 = metric.evaluate(size=100)['monitor/top1']
    assert math.isfinite(top1) and top1 < 60.0


def test_errors_name_the_fix():
    with raises_stating(ValueError, 'k >= 1', 'k=0'):
        WeightedKNNAccuracy(k=0)
    metric = WeightedKNNAccuracy()
    with raises_stating(ValueError, '(M, D)', '(M,)', '(5, 3)', '(4,)'):
        metric.set_memory_bank(torch.randn(5, 3), torch.zeros(4))
    metric.process(None, [dict(feature=torch.randn(3), gt_label=torch.tensor([1]))])
    with raises_stating(RuntimeError, "type='KNNValLoop'", 'memory_dataloader',
                        'set_memory_bank'):
        metric.evaluate(size=1)
