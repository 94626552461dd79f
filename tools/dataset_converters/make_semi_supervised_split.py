"""Write the annotation file of an ImageNet label subset for semi-supervised fine-tuning.

    # the standard subsets (SimCLR's 1percent.txt / 10percent.txt, one nXXXX_YYYY.JPEG a line)
    python tools/dataset_converters/make_semi_supervised_split.py data/imagenet/train \
        --subset-file 1percent.txt --out data/imagenet/meta/train_1percent.txt
    # or a class-balanced subset drawn with a seed
    python tools/dataset_converters/make_semi_supervised_split.py data/imagenet/train \
        --fraction 0.01 --seed 0 --out data/imagenet/meta/train_1percent_seed0.txt

Each output line is ``<wnid>/<file> <label>``, labels being the index of the class
folder in sorted order (mmpretrain's ImageNet class order); the semi-supervised
configs read it through ``ann_file``.
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def list_class_folders(root: str) -> Dict[str, List[str]]:
    """``{class folder: sorted image file names}`` of a folder-per-class dataset."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'{root} is not a folder; give the ImageNet train folder '
                                '(one sub-folder per class).')
    classes = {}
    for name in sorted(os.listdir(root)):
        folder = osp.join(root, name)
        if osp.isdir(folder):
            classes[name] = sorted(f for f in os.listdir(folder)
                                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not classes:
        raise FileNotFoundError(f'{root} has no class sub-folders.')
    return classes


def subset_from_file(classes: Dict[str, List[str]], subset_file: str) -> List[Tuple[str, str]]:
    """``(class, file)`` pairs named by a subset list, each checked to exist."""
    with open(subset_file) as f:
        names = [line.strip() for line in f if line.strip()]
    present = {cls: set(files) for cls, files in classes.items()}
    chosen, missing = [], []
    for name in names:
        cls = name.split('_')[0]
        if name in present.get(cls, ()):
            chosen.append((cls, name))
        else:
            missing.append(name)
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of the {len(names)} images named in {subset_file} are not in '
            f'the dataset folder (e.g. {missing[:5]}); check that the folder is the ImageNet '
            'train folder with <wnid>/<wnid>_<n>.JPEG files.')
    return chosen


def balanced_subset(classes: Dict[str, List[str]], per_class: int,
                    seed: int) -> List[Tuple[str, str]]:
    """``per_class`` images of every class drawn without replacement; same seed, same subset."""
    small = {cls: len(files) for cls, files in classes.items() if len(files) < per_class}
    if per_class <= 0 or small:
        raise ValueError(f'cannot take {per_class} images of each class; classes with '
                         f'fewer images: {dict(list(small.items())[:5])}.')
    rng = np.random.default_rng(seed)
    chosen = []
    for cls, files in classes.items():
        picks = rng.choice(len(files), size=per_class, replace=False)
        chosen += [(cls, files[i]) for i in sorted(picks)]
    return chosen


def annotation_lines(classes: Sequence[str], chosen: Sequence[Tuple[str, str]]) -> List[str]:
    label_of = {cls: i for i, cls in enumerate(sorted(classes))}
    return [f'{cls}/{name} {label_of[cls]}' for cls, name in sorted(chosen)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Make a semi-supervised ImageNet subset')
    parser.add_argument('root', help='train folder, one sub-folder per class')
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument('--subset-file', help='list of image file names (e.g. 1percent.txt)')
    how.add_argument('--fraction', type=float,
                     help='fraction of the labels, drawn class-balanced')
    how.add_argument('--per-class', type=int, help='images drawn from each class')
    parser.add_argument('--seed', type=int, default=0, help='seed of the balanced draw')
    parser.add_argument('--out', required=True, help='annotation file to write')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    classes = list_class_folders(args.root)
    if args.subset_file:
        chosen = subset_from_file(classes, args.subset_file)
    else:
        per_class = args.per_class
        if per_class is None:
            if not 0 < args.fraction <= 1:
                raise SystemExit(f'--fraction must be in (0, 1], got {args.fraction}.')
            total = sum(len(files) for files in classes.values())
            per_class = max(1, round(args.fraction * total / len(classes)))
        chosen = balanced_subset(classes, per_class, args.seed)
    lines = annotation_lines(list(classes), chosen)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'{len(lines)} images of {len({c for c, _ in chosen})} classes -> {args.out}')


if __name__ == '__main__':
    main()
