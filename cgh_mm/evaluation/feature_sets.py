"""Fit-set and query-set features of a backbone, shared by the feature evaluation tools.

``tools/analysis/knn_eval.py`` and ``tools/analysis/cluster_eval.py`` take an
mmpretrain config whose ``train_dataloader`` is the fit (memory) set and whose
``test_dataloader`` (else ``val_dataloader``) is the query set, and whose
``model.backbone`` is the backbone to evaluate.
"""
import argparse
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from torch import Tensor

from .feature_extraction import extract_features

FEATURE_KEYS = ('train_features', 'train_labels', 'test_features', 'test_labels')
_IMAGENET_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


class FeatureModel(nn.Module):
    """A backbone with the classification preprocessing of the config."""

    def __init__(self, backbone: nn.Module, data_preprocessor: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.data_preprocessor = data_preprocessor


def build_feature_model(cfg: Config) -> FeatureModel:
    """Backbone ``cfg.model.backbone`` with mean/std of the config's data preprocessor.

    Only normalisation is taken over (``mean``, ``std``, ``to_rgb``): a
    self-supervised preprocessor's view handling does not apply to single images.
    """
    from mmpretrain.models import ClsDataPreprocessor
    from mmpretrain.registry import MODELS

    model_cfg = cfg.get('model', None) or {}
    if 'backbone' not in model_cfg:
        raise KeyError('the config has no model.backbone: use a config with a model, '
                       "e.g. add --cfg-options model.backbone.type=ResNet "
                       'model.backbone.depth=50, or a CGH / benchmark config.')
    backbone_cfg = copy.deepcopy(model_cfg['backbone'])
    backbone_cfg.pop('init_cfg', None)  # weights come from --checkpoint, never downloaded
    backbone = MODELS.build(backbone_cfg)
    pre_cfg = model_cfg.get('data_preprocessor', None) or cfg.get('data_preprocessor', None)
    norm = {k: (pre_cfg or {}).get(k, v) for k, v in _IMAGENET_NORM.items()}
    return FeatureModel(backbone, ClsDataPreprocessor(**norm))


def _loader(cfg: Config, key: str, pipeline: Optional[list], batch_size: Optional[int],
            num_workers: int):
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg[key])
    dataset = loader_cfg['dataset']
    if pipeline is not None:
        dataset['pipeline'] = copy.deepcopy(pipeline)
    return Runner.build_dataloader(
        dict(batch_size=batch_size or loader_cfg.get('batch_size', 32),
             num_workers=num_workers,
             dataset=dataset,
             sampler=dict(type='DefaultSampler', shuffle=False),
             collate_fn=loader_cfg.get('collate_fn', dict(type='default_collate'))))


def _num_classes(dataset) -> Optional[int]:
    classes = getattr(dataset, 'CLASSES', None) or dataset.metainfo.get('classes', None)
    return len(classes) if classes else None


def compute_feature_sets(cfg: Config, checkpoint: str, weights: str = 'student',
                         batch_size: Optional[int] = None, num_workers: int = 0,
                         progress: bool = True) -> Dict[str, object]:
    """Pooled, L2-normalised features of the fit and query sets.

    The fit set is read with the query set's (deterministic) pipeline.

    Returns:
        dict with ``train_features (M, C)``, ``train_labels (M,)``,
        ``test_features (N, C)``, ``test_labels (N,)`` and ``num_classes``.
    """
    from mmengine.registry import init_default_scope

    from cgh_mm.utils import load_backbone_weights

    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = build_feature_model(cfg)
    load_backbone_weights(model.backbone, checkpoint, weights)
    query_key = 'test_dataloader' if cfg.get('test_dataloader', None) else 'val_dataloader'
    if not cfg.get(query_key, None) or not cfg.get('train_dataloader', None):
        raise KeyError('the config needs a train_dataloader (fit set) and a test_dataloader '
                       'or val_dataloader (query set).')
    query_pipeline = cfg[query_key]['dataset'].get('pipeline', None)
    train_loader = _loader(cfg, 'train_dataloader', query_pipeline, batch_size, num_workers)
    test_loader = _loader(cfg, query_key, None, batch_size, num_workers)
    train_features, train_labels = extract_features(model, train_loader, progress=progress)
    test_features, test_labels = extract_features(model, test_loader, progress=progress)
    num_classes = (_num_classes(train_loader.dataset)
                   or int(max(train_labels.max(), test_labels.max())) + 1)
    return dict(train_features=train_features, train_labels=train_labels,
                test_features=test_features, test_labels=test_labels,
                num_classes=int(num_classes))


def save_feature_sets(path: str, sets: Dict[str, object]) -> None:
    torch.save({k: sets[k] for k in FEATURE_KEYS + ('num_classes', )}, path)


def load_feature_sets(path: str) -> Dict[str, object]:
    """Feature sets written by :func:`save_feature_sets` (or by hand: a dict of the
    four tensors of ``FEATURE_KEYS``, ``num_classes`` optional)."""
    sets = torch.load(path, map_location='cpu', weights_only=True)
    missing = [k for k in FEATURE_KEYS if not isinstance(sets.get(k), Tensor)]
    if missing:
        raise KeyError(f'{path} lacks the tensors {missing}; write it with --save-features.')
    if sets['train_features'].shape[0] != sets['train_labels'].shape[0] or \
            sets['test_features'].shape[0] != sets['test_labels'].shape[0]:
        raise ValueError(f'{path}: features and labels differ in length.')
    if not sets.get('num_classes'):
        sets['num_classes'] = int(max(sets['train_labels'].max(), sets['test_labels'].max())) + 1
    sets['num_classes'] = int(sets['num_classes'])
    return sets


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line arguments shared by the feature evaluation tools."""
    parser.add_argument('config', nargs='?',
                        help='mmpretrain config: model.backbone, train (fit set) and '
                        'test/val (query set) dataloaders')
    parser.add_argument('checkpoint', nargs='?',
                        help='CGH checkpoint, or a plain backbone checkpoint')
    parser.add_argument('--weights', choices=['student', 'teacher'], default='student',
                        help='student (backbone.*) or EMA teacher '
                        '(teacher.module.backbone.*) weights of a CGH checkpoint')
    parser.add_argument('--save-features', help='write the features to this .pth file')
    parser.add_argument('--load-features',
                        help='read features from this .pth file instead of computing them')
    parser.add_argument('--batch-size', type=int, help='override the dataloader batch size')
    parser.add_argument('--num-workers', type=int, default=0, help='dataloader workers')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')


def feature_sets_from_args(args: argparse.Namespace) -> Dict[str, object]:
    """Load ``--load-features`` or compute (and maybe ``--save-features``) the features."""
    if args.load_features:
        return load_feature_sets(args.load_features)
    if not args.config or not args.checkpoint:
        raise SystemExit('give CONFIG and CHECKPOINT, or --load-features FILE.')
    import cgh_mm  # noqa: F401  (registers the modules used by the config)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    sets = compute_feature_sets(cfg, args.checkpoint, args.weights, args.batch_size,
                                args.num_workers)
    if args.save_features:
        save_feature_sets(args.save_features, sets)
    return sets
