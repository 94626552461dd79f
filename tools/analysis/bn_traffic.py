"""Bytes each GPU receives per training step: shuffle-BN against SyncBN, by world size.

Counted from the model built from a config (its BatchNorm layers and trainable parameters)
and the batch, not measured on a network. Per rank and step, in float32 (4 B), with an
all-gather of S bytes per rank receiving ``(W - 1) S`` and a ring all-reduce of S bytes
receiving ``2 (W - 1) / W * S``:

* shuffle-BN (``model.shuffle_teacher_bn=True``, BN): the teacher's input images are
  all-gathered (``shuffle_across_ranks``, as mmpretrain's ``batch_shuffle_ddp``), the
  shuffle index is broadcast, and the teacher's two embeddings are all-gathered back
  (mmpretrain's ``batch_unshuffle_ddp``);
* SyncBN (``shuffle_teacher_bn=False``): every BN layer all-gathers ``2C + 1`` statistics
  in each forward (student and teacher) and all-reduces ``2C`` gradient sums in the
  student's backward;
* both: the DDP gradient all-reduce and the all-gather of the teacher keys for the queues.

    python tools/analysis/bn_traffic.py configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py
"""
import argparse
from typing import Dict, List, Optional, Sequence

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

FLOAT_BYTES = 4
INDEX_BYTES = 8


def bn_channels(module: nn.Module) -> List[int]:
    """Channels of each BatchNorm layer of ``module``."""
    return [m.num_features for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def bytes_per_step(world_size: int, batch_per_gpu: int, resolution: int, feat_dim: int,
                   trainable_params: int, student_bn: Sequence[int],
                   teacher_bn: Sequence[int], contexts: int = 2) -> Dict[str, Dict[str, float]]:
    """Bytes one rank receives in one step, per mode and per collective.

    Args:
        world_size: number of GPUs ``W``.
        batch_per_gpu: images per GPU ``N``.
        resolution: side of the square teacher view.
        feat_dim: embedding size ``C`` of each context.
        trainable_params: parameters whose gradients DDP all-reduces.
        student_bn: channels of every BN layer of one student step, a layer once per
            forward pass through it.
        teacher_bn: channels of every BN layer of the teacher's forward.
        contexts: embeddings per image: 2 (global and hypercolumn), 1 with
            ``teaching='global'``.

    Returns:
        ``{'shuffle-BN': {collective: bytes}, 'SyncBN': {collective: bytes}}``.
    """
    w, n = world_size, batch_per_gpu
    gather = float(w - 1)  # shares received by an all-gather
    ring = 2.0 * (w - 1) / w  # share received by a ring all-reduce
    common = {
        'DDP gradient all-reduce': ring * trainable_params * FLOAT_BYTES,
        'teacher keys for the queues': gather * contexts * n * feat_dim * FLOAT_BYTES,
    }
    shuffle = {
        'teacher images all-gather': gather * n * 3 * resolution**2 * FLOAT_BYTES,
        'shuffle index broadcast': (w * n * INDEX_BYTES) if w > 1 else 0.0,
        'teacher embeddings unshuffle': gather * contexts * n * feat_dim * FLOAT_BYTES,
    }
    sync = {
        # mean, invstd (C each) and the count of every layer, student and teacher
        'SyncBN forward statistics': gather * sum(
            2 * c + 1 for c in [*student_bn, *teacher_bn]) * FLOAT_BYTES,
        # sum_dy and sum_dy_xmu of every student layer
        'SyncBN backward sums': ring * sum(2 * c for c in student_bn) * FLOAT_BYTES,
    }
    return {'shuffle-BN': {**shuffle, **common}, 'SyncBN': {**sync, **common}}


def model_counts(cfg: Config) -> dict:
    """Trainable parameters and BN channels of one student / teacher step of ``cfg.model``
    (BN layers and their count of forward passes: local crops go through the backbone
    and the global neck again), and the embeddings per image (no hypercolumn branch with
    ``teaching='global'``)."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import cgh_mm.models  # noqa: F401  (registers CGH)
    model = MODELS.build(cfg.model)
    backbone_and_neck = bn_channels(model.backbone) + bn_channels(model.neck)
    with_hypercolumn = model.hypercolumn_neck is not None
    hypercolumn = bn_channels(model.hypercolumn_neck) if with_hypercolumn else []
    return dict(
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        student_bn=(1 + model.num_local_crops) * backbone_and_neck + hypercolumn,
        teacher_bn=backbone_and_neck + hypercolumn, feat_dim=model.feat_dim,
        contexts=2 if with_hypercolumn else 1)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', nargs='?',
                        default='configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py')
    parser.add_argument('--batch', type=int, help='images per GPU (default: the config\'s)')
    parser.add_argument('--resolution', type=int, default=224, help='teacher view side')
    parser.add_argument('--world-sizes', type=int, nargs='+', default=[8, 16, 32, 64])
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    batch = args.batch or cfg.train_dataloader.batch_size
    counts = model_counts(cfg)
    print(f'{args.config}: batch {batch} per GPU, {args.resolution} px, feat_dim '
          f'{counts["feat_dim"]}, {counts["trainable_params"] / 1e6:.2f} M trainable '
          f'parameters, BN layers per student step {len(counts["student_bn"])} '
          f'({sum(counts["student_bn"])} channels), per teacher forward '
          f'{len(counts["teacher_bn"])} ({sum(counts["teacher_bn"])} channels)')
    print('MB received per GPU per step (1 MB = 1e6 B), float32')
    header = f'{"GPUs":>5} {"shuffle-BN":>11} {"of which images":>16} {"SyncBN":>9} ' \
             f'{"of which BN":>12} {"DDP grads":>10}'
    print(header)
    for w in args.world_sizes:
        res = bytes_per_step(w, batch, args.resolution, counts['feat_dim'],
                             counts['trainable_params'], counts['student_bn'],
                             counts['teacher_bn'], counts['contexts'])
        shuffle, sync = res['shuffle-BN'], res['SyncBN']
        sync_bn = sync['SyncBN forward statistics'] + sync['SyncBN backward sums']
        print(f'{w:>5} {sum(shuffle.values()) / 1e6:>11.1f} '
              f'{shuffle["teacher images all-gather"] / 1e6:>16.1f} '
              f'{sum(sync.values()) / 1e6:>9.1f} {sync_bn / 1e6:>12.2f} '
              f'{shuffle["DDP gradient all-reduce"] / 1e6:>10.1f}')


if __name__ == '__main__':
    main()
