"""Pooled backbone features of a fit (memory) set and a query set, and the command-line
arguments that choose them, for the feature evaluation tools (``tools/analysis/knn_eval.py``,
``tools/analysis/cluster_eval.py``)."""
import argparse
import copy
import io
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config
from torch import Tensor

from ..runtime import load_backbone_weights, load_checkpoint_safely, write_file_atomically
from ..runtime.launch import CfgOptions
from .features import extract_features

FEATURE_KEYS = ('train_features', 'train_labels', 'test_features', 'test_labels')


def default_device() -> str:
    """``'cuda'`` when torch sees a GPU, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def checked_device(device: Optional[str]) -> torch.device:
    """``device`` (None: :func:`default_device`), refused at once if it is a CUDA device
    and torch sees none."""
    device = torch.device(device or default_device())
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'--device {device}: torch.cuda.is_available() is False here (torch '
                         f'{torch.__version__}, built for CUDA {torch.version.cuda}); run on a '
                         'GPU machine, or use --device cpu.')
    return device


def device_name(device: torch.device) -> str:
    """``cuda:0 (NVIDIA H100 ...)`` or ``cpu (N threads)``, for the tools' output."""
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f'cuda:{index} ({torch.cuda.get_device_name(index)})'
    return f'{device} ({torch.get_num_threads()} threads)'


def _loader(cfg: Config, key: str, pipeline: Optional[list], batch_size: Optional[int],
            num_workers: Optional[int], device: torch.device):
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg[key])
    if pipeline is not None:
        loader_cfg['dataset']['pipeline'] = copy.deepcopy(pipeline)
    return Runner.build_dataloader(dict(
        batch_size=batch_size or loader_cfg.get('batch_size', 32),
        num_workers=loader_cfg.get('num_workers', 0) if num_workers is None else num_workers,
        # page-locked batches: their copies to the GPU do not go through a staging buffer
        pin_memory=device.type == 'cuda',
        dataset=loader_cfg['dataset'], sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=loader_cfg.get('collate_fn', dict(type='default_collate'))))


def compute_feature_sets(cfg: Config, checkpoint: str, weights: str = 'student',
                         batch_size: Optional[int] = None, num_workers: Optional[int] = None,
                         device: Union[str, torch.device] = 'cpu') -> Dict[str, object]:
    """Features of ``cfg.model.backbone`` loaded with the ``weights`` of ``checkpoint``:
    ``train_features (M, C)`` and ``train_labels (M,)`` of the train dataloader (read
    with the query pipeline), ``test_*`` of the test (else val) dataloader, and
    ``num_classes``. Images are normalised as the config's data preprocessor says. The
    backbone runs on ``device`` over batches of ``batch_size`` (default: each dataloader's)
    read by ``num_workers`` loader processes (default: each dataloader's ``num_workers``);
    the features are returned on the CPU."""
    from mmengine.registry import init_default_scope
    from mmpretrain.models import ImageClassifier

    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.get('model', None) or {}
    query_key = 'test_dataloader' if cfg.get('test_dataloader', None) else 'val_dataloader'
    if 'backbone' not in model_cfg:
        raise KeyError('the config has no model.backbone: use a config with a model, '
                       "e.g. add --cfg-options model.backbone.type=ResNet "
                       'model.backbone.depth=50, or a CGH / benchmark config.')
    if not cfg.get(query_key, None) or not cfg.get('train_dataloader', None):
        raise KeyError('the config needs a train_dataloader (fit set) and a test_dataloader '
                       'or val_dataloader (query set).')
    backbone_cfg = dict(model_cfg['backbone'], init_cfg=None)  # weights: from `checkpoint`
    # Only normalisation is taken over: a self-supervised preprocessor's view handling
    # does not apply to single images.
    pre_cfg = model_cfg.get('data_preprocessor', None) or cfg.get('data_preprocessor', None)
    norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
    model = ImageClassifier(backbone_cfg, data_preprocessor={
        k: (pre_cfg or {}).get(k, v) for k, v in norm.items()})
    load_backbone_weights(model.backbone, checkpoint, weights)
    device = torch.device(device)
    model.to(device)  # the data preprocessor follows: it moves each batch there
    pipeline = cfg[query_key]['dataset'].get('pipeline', None)
    train_loader = _loader(cfg, 'train_dataloader', pipeline, batch_size, num_workers, device)
    test_loader = _loader(cfg, query_key, None, batch_size, num_workers, device)
    for name, loader in (('fit', train_loader), ('query', test_loader)):
        print(f'features of {len(loader.dataset)} {name} images on {device_name(device)}: '
              f'batches of {loader.batch_size}, {loader.num_workers} loader workers', flush=True)
    sets = dict(zip(FEATURE_KEYS, extract_features(model, train_loader, True) +
                    extract_features(model, test_loader, True)))
    classes = train_loader.dataset.metainfo.get('classes', None)
    return dict(sets, num_classes=len(classes) if classes else num_classes_of(sets))


def save_feature_sets(path: str, sets: Dict[str, object]) -> None:
    buffer = io.BytesIO()
    torch.save({k: sets[k] for k in FEATURE_KEYS + ('num_classes', )}, buffer)
    write_file_atomically(path, buffer.getvalue())


def load_feature_sets(path: str) -> Dict[str, object]:
    """Feature sets of :func:`save_feature_sets`, or any dict of the four tensors of
    ``FEATURE_KEYS`` (``num_classes`` optional)."""
    sets = load_checkpoint_safely(path)
    missing = [k for k in FEATURE_KEYS if not isinstance(sets.get(k), Tensor)]
    if missing:
        raise KeyError(f'{path} lacks the tensors {missing}; write it with --save-features.')
    if sets['train_features'].shape[0] != sets['train_labels'].shape[0] or \
            sets['test_features'].shape[0] != sets['test_labels'].shape[0]:
        raise ValueError(f'{path}: features and labels differ in length.')
    return dict(sets, num_classes=num_classes_of(sets))


def num_classes_of(sets: Dict[str, object]) -> int:
    """``sets['num_classes']``, else the largest label + 1."""
    return int(sets.get('num_classes') or
               max(sets['train_labels'].max(), sets['test_labels'].max()) + 1)


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line arguments shared by the feature evaluation tools."""
    parser.add_argument('config', nargs='?', help='mmpretrain config: model.backbone, '
                        'train (fit set) and test/val (query set) dataloaders')
    parser.add_argument('checkpoint', nargs='?',
                        help='CGH checkpoint, or a plain backbone checkpoint')
    parser.add_argument('--weights', choices=['student', 'teacher'], default='student',
                        help='CGH checkpoint backbone: student (backbone.*) or EMA teacher')
    parser.add_argument('--save-features', help='write the features to this .pth file')
    parser.add_argument('--load-features', help='read the features from this .pth file')
    parser.add_argument('--device', help='device of the backbone (and of the kNN search); '
                        'default: cuda when torch sees a GPU, else cpu')
    parser.add_argument('--batch-size', type=int, help='override the dataloader batch size')
    parser.add_argument('--num-workers', type=int,
                        help="loader worker processes (default: the dataloader's num_workers)")
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
                        help='override config settings, key=value pairs')


def feature_sets_from_args(args: argparse.Namespace,
                           device: Optional[torch.device] = None) -> Dict[str, object]:
    """Load ``--load-features`` or compute (and maybe ``--save-features``) the features on
    ``device`` (default: ``--device``)."""
    device = device or checked_device(args.device)
    if args.load_features:
        return load_feature_sets(args.load_features)
    if not args.config or not args.checkpoint:
        raise SystemExit('give CONFIG and CHECKPOINT, or --load-features FILE.')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    sets = compute_feature_sets(cfg, args.checkpoint, args.weights, args.batch_size,
                                args.num_workers, device)
    if args.save_features:
        save_feature_sets(args.save_features, sets)
    return sets
