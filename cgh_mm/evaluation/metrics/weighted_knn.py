from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import weighted_knn_accuracy


@METRICS.register_module()
class WeightedKNNAccuracy(BaseMetric):
    """Weighted kNN top-1 (DINO style) of query features against a memory bank.

    The memory bank (labelled train features) is given with
    :meth:`set_memory_bank` before :meth:`evaluate`; ``KNNValLoop`` does it.
    Each processed sample is a dict with ``'feature'`` (``(D,)``) and
    ``'gt_label'``. The result key is ``'<prefix>/top1'`` (``'knn/top1'``), in percent.

    Args:
        k: neighbours (20 in the reference protocol).
        temperature: temperature of the vote weights (0.07).
        num_classes: number of classes; default: from ``dataset_meta['classes']``,
            else the largest label + 1.
        collect_device, prefix: as in ``mmengine.evaluator.BaseMetric``.
    """

    default_prefix = 'knn'

    def __init__(self,
                 k: int = 20,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if k < 1 or temperature <= 0:
            raise ValueError(f'WeightedKNNAccuracy needs k >= 1 and temperature > 0, got '
                             f'k={k}, temperature={temperature}.')
        self.k = int(k)
        self.temperature = float(temperature)
        self.num_classes = num_classes
        self._memory_features: Optional[Tensor] = None
        self._memory_labels: Optional[Tensor] = None

    def set_memory_bank(self, features: Tensor, labels: Tensor) -> None:
        """Set the labelled neighbours: ``features (M, D)``, ``labels (M,)``."""
        if features.dim() != 2 or features.shape[0] != labels.shape[0]:
            raise ValueError('WeightedKNNAccuracy.set_memory_bank needs features (M, D) and '
                             f'labels (M,), got {tuple(features.shape)} and '
                             f'{tuple(labels.shape)}.')
        self._memory_features = features
        self._memory_labels = labels.long()

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((torch.as_tensor(sample['feature']).float().cpu(),
                                 int(torch.as_tensor(sample['gt_label']).view(-1)[0])))

    def _num_classes(self, labels: Tensor) -> int:
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = (self.dataset_meta or {}).get('classes')
        if classes:
            return len(classes)
        return int(max(labels.max().item(), self._memory_labels.max().item())) + 1

    def compute_metrics(self, results: List) -> dict:
        if self._memory_features is None:
            raise RuntimeError(
                'WeightedKNNAccuracy has no memory bank. Use it with '
                "`val_cfg=dict(type='KNNValLoop', memory_dataloader=...)`, or call "
                '`set_memory_bank(features, labels)` before `evaluate`.')
        features = torch.stack([torch.as_tensor(np.asarray(f)) for f, _ in results])
        labels = torch.tensor([label for _, label in results], dtype=torch.long)
        acc = weighted_knn_accuracy(
            self._memory_features, self._memory_labels, features, labels,
            self._num_classes(labels), ks=(self.k, ), temperature=self.temperature)
        return {'top1': acc[self.k]}
