from typing import Dict, List, Tuple, Union

import numpy as np
import torch
from mmengine.dist import broadcast, collect_results, get_world_size, is_main_process
from mmengine.runner import ValLoop
from mmpretrain.registry import LOOPS
from mmpretrain.utils import get_ori_model
from torch.utils.data import DataLoader

from ...evaluation import extract_features


def gather_features(features: torch.Tensor, labels: torch.Tensor,
                    size: int) -> Union[Tuple[torch.Tensor, torch.Tensor], Tuple[None, None]]:
    """Features ``(size, D)`` and labels ``(size,)`` of all ranks, in dataset order.

    Each rank holds its sampler's share (``DefaultSampler``, no shuffle); the
    padding a distributed sampler adds is dropped. Returns the full arrays on
    the main process and ``(None, None)`` elsewhere; one process returns its input.
    """
    rows = list(zip(features.numpy(), labels.numpy()))
    gathered = collect_results(rows, size, device='cpu')
    if gathered is None:
        return None, None
    return (torch.from_numpy(np.stack([f for f, _ in gathered])),
            torch.from_numpy(np.asarray([label for _, label in gathered])).long())


@LOOPS.register_module()
class KNNValLoop(ValLoop):
    """Shows during pretraining whether the features improve: weighted kNN top-1 of
    pooled backbone features at every validation (an online monitor).

    Every validation extracts L2-normalised, pooled last-stage backbone features
    of a labelled memory set (``memory_dataloader``, e.g. a train subset with the
    test pipeline) and of the val set, gathers them across ranks and hands them
    to the evaluator's ``WeightedKNNAccuracy``, which logs ``knn/top1``.
    No ``val_step`` is run: pretraining models have no ``predict``. With several
    processes, every rank first takes rank 0's backbone buffers (BN running
    statistics): DDP without ``broadcast_buffers`` lets each rank keep its own,
    and a checkpoint holds rank 0's, so a resumed run would otherwise validate
    another model than the interrupted one (training uses batch statistics only).

    Args:
        dataloader: val (query) dataloader or its config; its samples need ``gt_label``.
        memory_dataloader: dataloader (or config) of the labelled memory set;
            use a sampler with ``shuffle=False``.
        fp16: run the backbone under autocast.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Dict, List], memory_dataloader: Union[DataLoader, Dict],
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if isinstance(memory_dataloader, dict):
            memory_dataloader = runner.build_dataloader(memory_dataloader, seed=runner.seed)
        self.memory_dataloader = memory_dataloader
        self._knn_metrics = [m for m in self.evaluator.metrics if hasattr(m, 'set_memory_bank')]
        if not self._knn_metrics:
            raise ValueError(
                'KNNValLoop needs a metric with a memory bank in `val_evaluator`, e.g. '
                "`val_evaluator = dict(type='WeightedKNNAccuracy', k=20, temperature=0.07)`.")

    def _features(self, dataloader: DataLoader) -> Tuple[torch.Tensor, torch.Tensor]:
        model = get_ori_model(self.runner.model)
        device_type = next(model.parameters()).device.type
        with torch.autocast(device_type=device_type, enabled=self.fp16):
            return extract_features(model, dataloader)

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        if get_world_size() > 1:
            for buffer in get_ori_model(self.runner.model).backbone.buffers():
                broadcast(buffer, src=0)

        memory_features, memory_labels = gather_features(
            *self._features(self.memory_dataloader), len(self.memory_dataloader.dataset))
        if is_main_process():
            for metric in self._knn_metrics:
                metric.set_memory_bank(memory_features, memory_labels)

        # The evaluator gathers the queries itself (BaseMetric.evaluate).
        features, labels = self._features(self.dataloader)
        self.evaluator.process(
            [dict(feature=f, gt_label=label) for f, label in zip(features, labels)])
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))

        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics
