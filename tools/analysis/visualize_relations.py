"""Plot what a CGH teacher relates: global vs hypercolumn relations over the queue.

    python tools/analysis/visualize_relations.py CONFIG --checkpoints A.pth [B.pth ...] \
        (--images DIR | --dataset) [--num-images 6] [--image-size 224] [--topk 10] \
        [--out-dir DIR]

For each checkpoint, the teacher embeds a few images; their relations to the
queue (softmax of the similarities with the configured teacher temperatures)
are plotted side by side for the global and the hypercolumn context, with
their agreement per image: ``KL(global || hypercolumn)`` and the overlap of
their top-k slots. With several checkpoints of one run, the mean agreement over
training is plotted too. Writes PNGs and ``agreement.json``; prints their paths.
Checkpoints are loaded with ``torch.load(weights_only=True)``.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmcv  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import Compose  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from tqdm import tqdm  # noqa: E402

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the CGH config the checkpoints were trained with')
    parser.add_argument('--checkpoints', nargs='+', required=True,
                        help='one or more checkpoints of one run, in training order')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', help='a folder of images (the first --num-images, sorted)')
    source.add_argument('--dataset', action='store_true',
                        help="use the first --num-images of the config's train dataset")
    parser.add_argument('--num-images', type=int, default=6)
    parser.add_argument('--image-size', type=int, default=224, help='images are resized to it')
    parser.add_argument('--topk', type=int, default=10, help='k of the top-k overlap')
    parser.add_argument('--plot-slots', type=int, default=50,
                        help='queue slots shown per relation (the global top ones)')
    parser.add_argument('--out-dir', default='work_dirs/relations')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if args.num_images < 1 or args.topk < 1 or args.plot_slots < 1:
        parser.error('--num-images, --topk and --plot-slots must be >= 1')
    return args


def images_from_folder(folder: str, num: int, size: int) -> List[np.ndarray]:
    """The first ``num`` images of ``folder`` (sorted names), BGR ``(size, size, 3)`` uint8."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--images: no such folder: {folder}')
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise FileNotFoundError(f'--images: no image files ({", ".join(IMAGE_EXTENSIONS)}) '
                                f'in {folder}')
    images = []
    for name in names[:num]:
        path = osp.join(folder, name)
        img = mmcv.imread(path, channel_order='bgr')
        if img is None:
            raise OSError(f'cannot read image {path}')
        images.append(mmcv.imresize(img, (size, size)))
    return images


def images_from_dataset(cfg: Config, num: int, size: int) -> List[np.ndarray]:
    """The first ``num`` images of the config's train dataset, loaded but not augmented."""
    from mmpretrain.registry import DATASETS

    dataset_cfg = cfg.train_dataloader.dataset.copy()
    loading = [t for t in dataset_cfg.get('pipeline', [])
               if str(t.get('type', '')).startswith('LoadImage')]
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError('the train dataset of the config is empty')
    pipeline = Compose(loading + [dict(type='Resize', scale=(size, size))])
    return [pipeline(dataset.get_data_info(i))['img'] for i in range(min(num, len(dataset)))]


def load_cgh(cfg: Config, checkpoint: str) -> Tuple[torch.nn.Module, dict]:
    """Build the config's model and load a checkpoint with ``weights_only=True``.

    Returns the model in eval mode and the checkpoint's ``meta`` (empty if none).
    """
    from mmpretrain.registry import MODELS

    from cgh_mm.utils import load_checkpoint_safely

    loaded = load_checkpoint_safely(checkpoint)
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'teacher') or not hasattr(model, 'hypercolumn_queue'):
        raise TypeError(f'{cfg.model.type} is not a CGH model: the tool needs its teacher '
                        'and both queues.')
    state = loaded.get('state_dict', loaded)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f'{checkpoint} does not match the config\'s model; pass the '
                         'config (and --cfg-options) it was trained with. '
                         f'{str(error)[:600]}') from None
    meta = loaded.get('meta', {})
    return model.eval(), meta if isinstance(meta, dict) else {}


@torch.no_grad()
def teacher_relations(model: torch.nn.Module,
                      images: List[np.ndarray]) -> Tuple[torch.Tensor, torch.Tensor]:
    """The teacher's global and hypercolumn relations of ``images``, ``(N, K)`` each."""
    from cgh_mm.evaluation.functional import relation_distribution

    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, '_channel_conversion', False):
        batch = batch[:, [2, 1, 0]]
    if getattr(preprocessor, '_enable_normalize', False):
        batch = (batch - preprocessor.mean) / preprocessor.std
    global_emb, hypercolumn_emb = model.teacher.module(batch)
    head = model.head
    return (relation_distribution(global_emb, model.global_queue, head.teacher_global_temp),
            relation_distribution(hypercolumn_emb, model.hypercolumn_queue,
                                  head.teacher_hypercolumn_temp))


def plot_relations(images: List[np.ndarray], global_rel: torch.Tensor,
                   hyper_rel: torch.Tensor, kl: torch.Tensor, overlap: torch.Tensor,
                   topk: int, slots: int, title: str, path: str) -> None:
    """One row per image: the image, then both relations over the global top slots."""
    slots = min(slots, global_rel.shape[1])
    fig, axes = plt.subplots(len(images), 3, figsize=(13, 2.4 * len(images)),
                             squeeze=False, gridspec_kw=dict(width_ratios=[1, 3, 3]))
    for i, img in enumerate(images):
        order = global_rel[i].argsort(descending=True)[:slots]
        axes[i, 0].imshow(img[..., ::-1])
        axes[i, 0].set_axis_off()
        axes[i, 0].set_title(f'KL {kl[i]:.3f}\ntop-{topk} overlap {overlap[i]:.2f}',
                             fontsize=8)
        for ax, rel, name, colour in ((axes[i, 1], global_rel, 'global', 'tab:blue'),
                                      (axes[i, 2], hyper_rel, 'hypercolumn', 'tab:orange')):
            ax.bar(np.arange(slots), rel[i, order].numpy(), color=colour)
            ax.set_ylabel('p(slot)', fontsize=8)
            ax.set_title(f'teacher {name} relation (max {rel[i].max():.3f})', fontsize=8)
            ax.tick_params(labelsize=7)
        axes[i, 2].set_ylim(axes[i, 1].get_ylim())
    axes[-1, 1].set_xlabel(f'queue slots, the {slots} highest of the global relation')
    axes[-1, 2].set_xlabel(f'the same {slots} slots')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_agreement(kl: torch.Tensor, overlap: torch.Tensor, topk: int, title: str,
                   path: str) -> None:
    fig, (ax_kl, ax_ov) = plt.subplots(1, 2, figsize=(9, 3))
    index = np.arange(len(kl))
    ax_kl.bar(index, kl.numpy(), color='tab:purple')
    ax_kl.set(xlabel='image', ylabel='KL(global || hypercolumn) [nats]')
    ax_ov.bar(index, overlap.numpy(), color='tab:green')
    ax_ov.set(xlabel='image', ylabel=f'top-{topk} overlap', ylim=(0, 1))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_over_training(rows: List[Dict], topk: int, path: str) -> None:
    steps = [row['step'] for row in rows]
    fig, (ax_kl, ax_ov) = plt.subplots(1, 2, figsize=(9, 3))
    for ax, key, label in ((ax_kl, 'kl', 'KL(global || hypercolumn) [nats]'),
                           (ax_ov, 'overlap', f'top-{topk} overlap')):
        mean = np.array([np.mean(row[key]) for row in rows])
        std = np.array([np.std(row[key]) for row in rows])
        ax.plot(steps, mean, marker='o')
        ax.fill_between(steps, mean - std, mean + std, alpha=0.3)
        ax.set(xlabel='iteration' if all(r['from_meta'] for r in rows) else 'checkpoint',
               ylabel=label)
    ax_ov.set_ylim(0, 1)
    fig.suptitle('teacher relation agreement over training (mean +- std over images)')
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def checkpoint_step(meta: dict, index: int) -> Tuple[int, bool]:
    """The training iteration stored in a checkpoint's ``meta``, else its position."""
    if isinstance(meta.get('iter'), int):
        return meta['iter'], True
    return index, False


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import cgh_mm  # noqa: F401  (registers CGH)
    from cgh_mm.evaluation.functional import kl_divergence, topk_overlap

    if args.images:
        images = images_from_folder(args.images, args.num_images, args.image_size)
    else:
        images = images_from_dataset(cfg, args.num_images, args.image_size)
    os.makedirs(args.out_dir, exist_ok=True)

    rows, written = [], []
    for index, checkpoint in enumerate(tqdm(args.checkpoints, desc='checkpoints')):
        model, meta = load_cgh(cfg, checkpoint)
        global_rel, hyper_rel = teacher_relations(model, images)
        if args.topk > global_rel.shape[1]:
            raise ValueError(f'--topk {args.topk} exceeds the queue length '
                             f'{global_rel.shape[1]}.')
        kl = kl_divergence(global_rel, hyper_rel)
        overlap = topk_overlap(global_rel, hyper_rel, args.topk)
        tag = osp.splitext(osp.basename(checkpoint))[0]
        step, from_meta = checkpoint_step(meta, index)
        title = f'{tag}: teacher relations over a queue of {global_rel.shape[1]}'
        relations_png = osp.join(args.out_dir, f'relations_{tag}.png')
        agreement_png = osp.join(args.out_dir, f'agreement_{tag}.png')
        plot_relations(images, global_rel, hyper_rel, kl, overlap, args.topk,
                       args.plot_slots, title, relations_png)
        plot_agreement(kl, overlap, args.topk, title, agreement_png)
        written += [relations_png, agreement_png]
        rows.append(dict(checkpoint=checkpoint, step=step, from_meta=from_meta,
                         kl=kl.tolist(), overlap=overlap.tolist()))
    if len(rows) > 1:
        over_training_png = osp.join(args.out_dir, 'agreement_over_training.png')
        plot_over_training(rows, args.topk, over_training_png)
        written.append(over_training_png)
    summary = osp.join(args.out_dir, 'agreement.json')
    with open(summary, 'w') as f:
        json.dump(dict(topk=args.topk, checkpoints=rows), f, indent=1)
    written.append(summary)
    for row in rows:
        print(f'{row["checkpoint"]}: mean KL {np.mean(row["kl"]):.4f} nats, '
              f'mean top-{args.topk} overlap {np.mean(row["overlap"]):.3f}')
    for path in written:
        print(path)


if __name__ == '__main__':
    main()
