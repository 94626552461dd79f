"""Pooled backbone features of a labelled dataloader, for the kNN monitor
(``KNNValLoop``) and the feature evaluation tools (:mod:`.feature_sets`)."""
from typing import Iterable, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def pooled_backbone_features(backbone: nn.Module, images: Tensor) -> Tensor:
    """L2-normalised, globally average-pooled last-stage features ``(N, C)``."""
    feats = backbone(images)
    last = feats[-1] if isinstance(feats, (tuple, list)) else feats
    return F.normalize((last.mean(dim=(2, 3)) if last.dim() == 4 else last).float(), dim=1)


@torch.no_grad()
def extract_features(model: nn.Module, dataloader: Iterable,
                     progress: bool = False) -> Tuple[Tensor, Tensor]:
    """``(features (N, C), labels (N,))`` on CPU of a labelled mmpretrain dataloader:
    batches through ``model.data_preprocessor``, then :func:`pooled_backbone_features`
    of ``model.backbone`` in eval mode."""
    was_training = model.backbone.training
    model.backbone.eval()
    if progress:
        from tqdm import tqdm
        dataloader = tqdm(dataloader, desc='features', unit='batch', disable=None)
    features, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        images = data['inputs']
        images = images[0] if isinstance(images, (list, tuple)) else images  # first view
        features.append(pooled_backbone_features(model.backbone, images).cpu())
        labels += [s.gt_label.view(-1).cpu() for s in data['data_samples']]
    model.backbone.train(was_training)
    return torch.cat(features), torch.cat(labels).long()
