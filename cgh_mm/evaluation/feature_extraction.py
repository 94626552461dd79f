from typing import Iterable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def pooled_backbone_features(backbone: nn.Module, images: Tensor) -> Tensor:
    """L2-normalised, globally average-pooled last-stage features, ``(N, C)``."""
    feats = backbone(images)
    last = feats[-1] if isinstance(feats, (tuple, list)) else feats
    if last.dim() == 4:
        last = last.mean(dim=(2, 3))
    return F.normalize(last.float(), dim=1)


@torch.no_grad()
def extract_features(model: nn.Module, dataloader: Iterable,
                     backbone: Optional[nn.Module] = None,
                     progress: bool = False) -> Tuple[Tensor, Tensor]:
    """Features and labels of a whole mmpretrain dataloader.

    Batches go through ``model.data_preprocessor``; features come from
    ``backbone`` (default ``model.backbone``) via :func:`pooled_backbone_features`.

    Returns:
        ``(features (N, C) on CPU, labels (N,) long)``.
    """
    backbone = backbone if backbone is not None else model.backbone
    was_training = backbone.training
    backbone.eval()
    if progress:
        from tqdm import tqdm
        dataloader = tqdm(dataloader, desc='features', unit='batch')
    features, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        images = data['inputs']
        if isinstance(images, (list, tuple)):
            images = images[0]
        features.append(pooled_backbone_features(backbone, images).cpu())
        labels.append(torch.cat([s.gt_label.view(-1) for s in data['data_samples']]).cpu())
    backbone.train(was_training)
    return torch.cat(features), torch.cat(labels).long()
