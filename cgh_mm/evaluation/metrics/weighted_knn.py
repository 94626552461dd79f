from typing import Any, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import weighted_knn_accuracy


@METRICS.register_module()
class WeightedKNNAccuracy(BaseMetric):
    """The online kNN monitor's accuracy: ``knn/top1`` in percent.

    Weighted kNN (DINO: ``k=20``, ``temperature=0.07``) of the processed samples (dicts
    of ``'feature'`` ``(D,)`` and ``'gt_label'``) against the memory bank of
    :meth:`set_memory_bank` (``KNNValLoop`` sets it). ``num_classes`` defaults to
    ``len(dataset_meta['classes'])``, else the largest label + 1."""

    default_prefix = 'knn'

    def __init__(self, k: int = 20, temperature: float = 0.07,
                 num_classes: Optional[int] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if k < 1 or temperature <= 0:
            raise ValueError(f'WeightedKNNAccuracy needs k >= 1 and temperature > 0, got '
                             f'k={k}, temperature={temperature}.')
        self.k, self.temperature, self.num_classes = int(k), float(temperature), num_classes
        self.memory: Optional[tuple] = None

    def set_memory_bank(self, features: Tensor, labels: Tensor) -> None:
        """The labelled neighbours: ``features (M, D)``, ``labels (M,)``."""
        if features.dim() != 2 or features.shape[0] != labels.shape[0]:
            raise ValueError('WeightedKNNAccuracy.set_memory_bank needs features (M, D) and '
                             f'labels (M,), got {tuple(features.shape)} and '
                             f'{tuple(labels.shape)}.')
        self.memory = (features, labels.long())

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.results += [(torch.as_tensor(s['feature']).float().cpu(),
                          int(torch.as_tensor(s['gt_label']).view(-1)[0])) for s in data_samples]

    def compute_metrics(self, results: List) -> dict:
        if self.memory is None:
            raise RuntimeError('WeightedKNNAccuracy has no memory bank. Use it with '
                               "`val_cfg=dict(type='KNNValLoop', memory_dataloader=...)`, or call "
                               '`set_memory_bank(features, labels)` before `evaluate`.')
        features = torch.stack([torch.as_tensor(f) for f, _ in results])
        labels = torch.tensor([label for _, label in results])
        classes = (self.dataset_meta or {}).get('classes')
        num_classes = self.num_classes or (len(classes) if classes else
                                           int(max(labels.max(), self.memory[1].max())) + 1)
        acc = weighted_knn_accuracy(*self.memory, features, labels, num_classes,
                                    ks=(self.k, ), temperature=self.temperature)
        return {'top1': next(iter(acc.values()))}  # keyed by k clamped to the memory size
