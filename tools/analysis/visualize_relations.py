"""Plot what a CGH teacher relates: global vs hypercolumn relations over the queue.

Plots, per checkpoint and image, the EMA teacher's relations to the queue (softmax of
``relation_logits`` / the head's teacher temperatures) in both contexts and their agreement:
``KL(global || hypercolumn)`` and the overlap of their top-k slots; for several checkpoints
also the agreement over training. A model with ``teaching='global'`` has no hypercolumn
branch: its global relations are drawn alone, with no agreement. Writes PNGs and
``agreement.json``; prints their paths.
"""
import argparse
import io
import json
import os.path as osp

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from torch import Tensor
from tqdm import tqdm

from cgh_mm.models.utils import relation_logits
from cgh_mm.runtime import load_checkpoint_safely, write_file_atomically
from cgh_mm.runtime.backbone_weights import load_state_dict_strictly, state_dict_of
from cgh_mm.runtime.launch import CfgOptions


# Agreement of two relation distributions ``(N, K)`` over the same queue slots.
def _check_pair(p: Tensor, q: Tensor) -> None:
    if p.shape != q.shape or p.dim() != 2:
        raise ValueError(f'expected two (N, K) distributions of one shape, got '
                         f'{tuple(p.shape)} and {tuple(q.shape)}.')


def kl_divergence(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    """``KL(p || q)`` of each row, ``(N,)`` in nats. ``q`` is floored at ``eps`` so
    that a slot where only ``q`` is 0 gives a large finite value, not infinity."""
    _check_pair(p, q)
    return F.kl_div(q.double().clamp_min(eps).log(), p.double(),
                    reduction='none').sum(dim=1).float()


def topk_overlap(p: Tensor, q: Tensor, k: int) -> Tensor:
    """``(N,)`` fraction of the ``k`` highest slots of ``p`` also among ``q``'s."""
    _check_pair(p, q)
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f'k must be in [1, {p.shape[1]}] (the queue length), got {k}.')
    top_q = torch.zeros_like(q, dtype=torch.bool).scatter_(1, q.topk(k, dim=1).indices, True)
    return top_q.gather(1, p.topk(k, dim=1).indices).sum(dim=1).float() / k


def load_images(cfg: Config, args: argparse.Namespace) -> list:
    """The first ``--num-images`` of ``--images`` (sorted paths) or of the config's train
    dataset (loaded, not augmented), resized: BGR ``(size, size, 3)`` uint8 arrays."""
    if args.images and not osp.isdir(args.images):
        raise FileNotFoundError(f'--images: no such folder: {args.images}')
    dataset_cfg = (dict(type='CustomDataset', data_root=args.images, with_label=False)
                   if args.images else cfg.train_dataloader.dataset)
    loading = [t for t in dataset_cfg.get('pipeline', [dict(type='LoadImageFromFileChecked')])
               if str(t.get('type', '')).startswith('LoadImage')]
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[]))
    if len(dataset) == 0:
        raise ValueError('the train dataset of the config is empty')
    pipeline = Compose(loading + [dict(type='Resize', scale=(args.image_size, ) * 2)])
    return [pipeline(dataset.get_data_info(i))['img']
            for i in range(min(args.num_images, len(dataset)))]


@torch.no_grad()
def teacher_relations(model, images: list) -> list:
    """The teacher's global and hypercolumn relations of ``images``, ``(N, K)`` each; the
    hypercolumn one None for a model without that branch (``teaching='global'``)."""
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    inputs = model.data_preprocessor(dict(inputs=batch, data_samples=None), False)['inputs']
    temps = (model.head.teacher_global_temp, model.head.teacher_hypercolumn_temp)
    return [None if emb is None else torch.softmax(relation_logits(emb, queue) / temp, dim=1)
            for emb, queue, temp in zip(model.embed(inputs, teacher=True),
                                        (model.global_queue, model.hypercolumn_queue), temps)]


def save_figure(fig: Figure, title: str, path: str) -> None:
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=80)
    write_file_atomically(path, buffer.getvalue())
    print(path)


def plot_relations(images: list, relations: list, kl, overlap, topk: int, slots: int,
                   title: str, path: str) -> None:
    """One row per image: the image, then each relation the model has over the global
    top slots (``kl``/``overlap`` None without a hypercolumn relation)."""
    drawn = [(rel, name, colour) for rel, name, colour in zip(
        relations, ('global', 'hypercolumn'), ('tab:blue', 'tab:orange')) if rel is not None]
    slots = min(slots, relations[0].shape[1])
    fig = Figure(figsize=(1 + 6 * len(drawn), 2.4 * len(images)))
    axes = fig.subplots(len(images), 1 + len(drawn), squeeze=False,
                        width_ratios=[1] + [3] * len(drawn))
    for i, img in enumerate(images):
        order = relations[0][i].argsort(descending=True)[:slots]
        axes[i, 0].imshow(img[..., ::-1])
        axes[i, 0].set_axis_off()
        axes[i, 0].set_title('global only' if kl is None else
                             f'KL {kl[i]:.3f}\ntop-{topk} overlap {overlap[i]:.2f}', fontsize=8)
        for ax, (rel, name, colour) in zip(axes[i, 1:], drawn):
            ax.bar(np.arange(slots), rel[i, order].numpy(), color=colour)
            ax.set_title(f'teacher {name} relation (max {rel[i].max():.3f})', fontsize=8)
            ax.set_ylabel('p(slot)', fontsize=8)
            ax.set_ylim(axes[i, 1].get_ylim())
    axes[-1, 1].set_xlabel(f'queue slots, the {slots} highest of the global relation')
    if len(drawn) > 1:
        axes[-1, 2].set_xlabel(f'the same {slots} slots')
    save_figure(fig, title, path)


def plot_agreement(x, kl, overlap, topk: int, xlabel: str, title: str, path: str) -> None:
    """KL and top-k overlap: bars per image (1-D values), or mean +- std over images
    along training (2-D values, checkpoints x images)."""
    fig = Figure(figsize=(9, 3))
    axes = fig.subplots(1, 2)
    for ax, values, label in zip(axes, (kl, overlap), ('KL(global || hypercolumn) [nats]',
                                                      f'top-{topk} overlap')):
        values = np.asarray(values)
        if values.ndim == 1:
            ax.bar(x, values, color='tab:purple' if ax is axes[0] else 'tab:green')
        else:
            mean, std = values.mean(axis=1), values.std(axis=1)
            ax.plot(x, mean, marker='o')
            ax.fill_between(x, mean - std, mean + std, alpha=0.3)
        ax.set(xlabel=xlabel, ylabel=label)
    axes[1].set_ylim(0, 1)
    save_figure(fig, title, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the CGH config the checkpoints were trained with')
    parser.add_argument('--checkpoints', nargs='+', required=True,
                        help='checkpoints of one run, in training order')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', help='a folder of images (sorted paths)')
    source.add_argument('--dataset', action='store_true', help="the config's train dataset")
    parser.add_argument('--num-images', type=int, default=6)
    parser.add_argument('--image-size', type=int, default=224, help='images are resized to it')
    parser.add_argument('--topk', type=int, default=10, help='k of the top-k overlap')
    parser.add_argument('--plot-slots', type=int, default=50, help='slots shown per relation')
    parser.add_argument('--out-dir', default='work_dirs/relations')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions)
    args = parser.parse_args()
    if min(args.num_images, args.topk, args.plot_slots) < 1:
        parser.error('--num-images, --topk and --plot-slots must be >= 1')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    images = load_images(cfg, args)
    model = MODELS.build(cfg.model).eval()
    with_hypercolumn = model.hypercolumn_queue is not None  # teaching='global': None
    rows = []
    for index, checkpoint in enumerate(tqdm(args.checkpoints, desc='checkpoints', disable=None)):
        loaded = load_checkpoint_safely(checkpoint)  # weights_only=True
        load_state_dict_strictly(model, state_dict_of(loaded, checkpoint), repr(checkpoint),
                                 'Pass the CGH config (and --cfg-options) it was trained with.')
        meta = loaded.get('meta') or {}
        relations = teacher_relations(model, images)
        tag = osp.splitext(osp.basename(checkpoint))[0]
        title = f'{tag}: teacher relations over a queue of {relations[0].shape[1]}'
        from_meta = isinstance(meta.get('iter'), int)  # the training iteration if known
        rows.append(dict(checkpoint=checkpoint, step=meta['iter'] if from_meta else index,
                         from_meta=from_meta, global_max=relations[0].max(dim=1)[0].tolist()))
        # teaching='global' (no hypercolumn branch): nothing to agree with
        kl, overlap = ((kl_divergence(*relations), topk_overlap(*relations, args.topk))
                       if with_hypercolumn else (None, None))
        plot_relations(images, relations, kl, overlap, args.topk, args.plot_slots, title,
                       osp.join(args.out_dir, f'relations_{tag}.png'))
        if not with_hypercolumn:
            rows[-1].update(kl=None, overlap=None)
            print(f"{checkpoint}: global relations only (teaching='global', no hypercolumn "
                  f'branch), mean largest probability {relations[0].max(dim=1)[0].mean():.4f}')
            continue
        plot_agreement(np.arange(len(kl)), kl, overlap, args.topk, 'image', title,
                       osp.join(args.out_dir, f'agreement_{tag}.png'))
        rows[-1].update(kl=kl.tolist(), overlap=overlap.tolist())
        print(f'{checkpoint}: mean KL {kl.mean():.4f} nats, mean top-{args.topk} overlap '
              f'{overlap.mean():.3f}')
    if len(rows) > 1 and with_hypercolumn:
        plot_agreement([r['step'] for r in rows], [r['kl'] for r in rows],
                       [r['overlap'] for r in rows], args.topk,
                       'iteration' if all(r['from_meta'] for r in rows) else 'checkpoint',
                       'teacher relation agreement over training (mean +- std over images)',
                       osp.join(args.out_dir, 'agreement_over_training.png'))
    summary = osp.join(args.out_dir, 'agreement.json')
    contexts = ['global'] + (['hypercolumn'] if with_hypercolumn else [])
    write_file_atomically(summary, json.dumps(dict(topk=args.topk, contexts=contexts,
                                                   checkpoints=rows), indent=1).encode())
    print(summary)


if __name__ == '__main__':
    main()
