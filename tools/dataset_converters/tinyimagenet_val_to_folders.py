"""Sort Tiny-ImageNet's validation images into one folder per class.

    python tools/dataset_converters/tinyimagenet_val_to_folders.py data/tiny-imagenet-200 \
        [--out DIR]

Tiny-ImageNet ships ``val/images/*.JPEG`` with the labels in
``val/val_annotations.txt`` (``file<TAB>wnid<TAB>x0 y0 x1 y1``); ``CustomDataset``
wants ``val/<wnid>/<file>``, like ``train/<wnid>/images/<file>``. Files are moved
there in place, or copied to ``--out DIR/<wnid>/`` (``val/images`` stays as it is;
it must not stay inside a folder that ``CustomDataset`` reads, or it becomes a
class). Every annotated file must exist and every image must be annotated,
checked before anything is written.
"""
import argparse
import os
import os.path as osp
import shutil
from typing import Dict, Optional

from tqdm import tqdm


def read_val_annotations(path: str) -> Dict[str, str]:
    """``{file name: wnid}`` from ``val_annotations.txt``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Tiny-ImageNet annotations not found: {path}')
    labels: Dict[str, str] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip('\n').split('\t')
            if len(fields) < 2 or not fields[0] or not fields[1]:
                raise ValueError(f'{path}:{number}: expected "file<TAB>wnid<TAB>box", '
                                 f'got {line.strip()!r}')
            labels[fields[0]] = fields[1]
    if not labels:
        raise ValueError(f'{path} is empty')
    return labels


def sort_val(root: str, out: Optional[str] = None) -> int:
    """Move ``root/val/images/*`` into ``root/val/<wnid>/`` (or copy into ``out/<wnid>/``).

    Returns the number of images.
    """
    val = osp.join(root, 'val')
    images_dir = osp.join(val, 'images')
    labels = read_val_annotations(osp.join(val, 'val_annotations.txt'))
    if not osp.isdir(images_dir):
        raise FileNotFoundError(f'{images_dir} not found: is {root} the tiny-imagenet-200 '
                                'folder, or was val/ already sorted?')
    on_disk = set(os.listdir(images_dir))
    missing = sorted(set(labels) - on_disk)
    if missing:
        raise FileNotFoundError(f'{len(missing)} annotated images are missing from '
                                f'{images_dir}, e.g. {osp.join(images_dir, missing[0])}')
    unlabelled = sorted(on_disk - set(labels))
    if unlabelled:
        raise ValueError(f'{len(unlabelled)} images in {images_dir} have no line in '
                         f'val_annotations.txt, e.g. {unlabelled[0]}')
    wnids_file = osp.join(root, 'wnids.txt')
    if osp.isfile(wnids_file):
        with open(wnids_file) as f:
            known = {line.strip() for line in f if line.strip()}
        unknown = sorted(set(labels.values()) - known)
        if unknown:
            raise ValueError(f'val_annotations.txt names classes not in {wnids_file}: '
                             f'{unknown[:5]}')
    target = val if out is None else out
    transfer = shutil.move if out is None else shutil.copy2
    for name, wnid in tqdm(sorted(labels.items()), desc='val', unit='img'):
        os.makedirs(osp.join(target, wnid), exist_ok=True)
        transfer(osp.join(images_dir, name), osp.join(target, wnid, name))
    if out is None:
        os.rmdir(images_dir)
    return len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', help='the tiny-imagenet-200 folder')
    parser.add_argument('--out', help='copy into OUT/<wnid>/ instead of moving in place')
    args = parser.parse_args()
    count = sort_val(args.root, args.out)
    target = args.out or osp.join(args.root, 'val')
    print(f'{count} validation images sorted into {target}/<wnid>/')


if __name__ == '__main__':
    main()
