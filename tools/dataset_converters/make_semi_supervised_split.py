"""Write the ``ann_file`` of an ImageNet label subset: ``<wnid>/<file> <label>`` lines,
labels in mmpretrain's class order (sorted folders), from a subset list (SimCLR's
1percent.txt) or a seeded class-balanced draw (--fraction or --per-class)."""
import argparse
import os.path as osp

import numpy as np
from mmpretrain.datasets import ImageNet
from mmpretrain.datasets.custom import find_folders, get_samples


def main() -> None:
    from cgh_mm.runtime.checkpoint import write_file_atomically

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', help='train folder, one sub-folder per class')
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument('--subset-file', help='list of image file names (e.g. 1percent.txt)')
    how.add_argument('--fraction', type=float, help='fraction of the labels, class-balanced')
    how.add_argument('--per-class', type=int, help='images drawn from each class')
    parser.add_argument('--seed', type=int, default=0, help='seed of the balanced draw')
    parser.add_argument('--out', required=True, help='annotation file to write')
    args = parser.parse_args()
    if not osp.isdir(args.root):
        raise FileNotFoundError(f'{args.root} is not a folder; give the ImageNet train '
                                'folder (one sub-folder per class).')
    _, folder_to_idx = find_folders(args.root)
    samples, _ = get_samples(args.root, folder_to_idx,
                             lambda name: name.lower().endswith(ImageNet.IMG_EXTENSIONS))
    if not samples:
        raise FileNotFoundError(f'{args.root} has no class sub-folders with images.')
    if args.subset_file:
        with open(args.subset_file) as f:
            names = [line.strip() for line in f if line.strip()]
        by_name = {osp.basename(path): (path, label) for path, label in samples}
        missing = [name for name in names if name not in by_name]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of the {len(names)} images named in {args.subset_file} are '
                f'not in the dataset folder (e.g. {missing[:5]}); check that the folder is '
                'the ImageNet train folder with <wnid>/<wnid>_<n>.JPEG files.')
        chosen = [by_name[name] for name in names]
    else:
        classes = {}
        for path, label in samples:
            classes.setdefault(label, []).append(path)
        if args.fraction is not None and not 0 < args.fraction <= 1:
            raise SystemExit(f'--fraction must be in (0, 1], got {args.fraction}.')
        per_class = args.per_class if args.per_class is not None else max(
            1, round(args.fraction * len(samples) / len(classes)))
        small = {osp.dirname(p[0]): len(p) for p in classes.values() if len(p) < per_class}
        if per_class <= 0 or small:
            raise ValueError(f'cannot take {per_class} images of each class; classes with '
                             f'fewer images: {dict(list(small.items())[:5])}.')
        rng = np.random.default_rng(args.seed)
        chosen = [(paths[i], label) for label, paths in sorted(classes.items())
                  for i in sorted(rng.choice(len(paths), per_class, replace=False))]
    lines = [f'{path} {label}\n' for path, label in sorted(chosen)]
    write_file_atomically(args.out, ''.join(lines).encode())
    print(f'{len(lines)} images of {len({label for _, label in chosen})} classes -> {args.out}')


if __name__ == '__main__':
    main()
