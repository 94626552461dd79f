"""Convert STL-10's binary release into image folders that ``CustomDataset`` reads.

    python tools/dataset_converters/stl10_to_folders.py data/stl10_binary \
        [--out data/stl10] [--splits unlabeled train test]

Input (from stl10_binary.tar.gz): ``unlabeled_X.bin``, ``train_X.bin``,
``train_y.bin``, ``test_X.bin``, ``test_y.bin``, ``class_names.txt``.
Output: ``OUT/unlabeled/unlabeled/<idx>.png`` (one pseudo-class, for
pretraining) and ``OUT/{train,test}/<class name>/<idx>.png``.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
SPLITS = ('unlabeled', 'train', 'test')


def read_stl10_images(path: str) -> np.ndarray:
    """Images of an STL-10 ``*_X.bin`` file, ``(N, 96, 96, 3)`` RGB uint8 (memory-mapped).

    The file stores each image channel-major and each channel column-major.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'STL-10 image file not found: {path}')
    size = osp.getsize(path)
    if size == 0 or size % IMAGE_BYTES:
        raise ValueError(f'{path}: {size} bytes is not a whole number of 96x96x3 images '
                         f'({IMAGE_BYTES} bytes each); the file is truncated or not an '
                         'STL-10 *_X.bin file. Download and extract it again.')
    raw = np.memmap(path, dtype=np.uint8, mode='r', shape=(size // IMAGE_BYTES, 3, SIDE, SIDE))
    return raw.transpose(0, 3, 2, 1)


def read_stl10_labels(path: str, num_images: int, num_classes: int) -> np.ndarray:
    """Labels of an STL-10 ``*_y.bin`` file (1-based on disk), ``(N,)`` 0-based int64."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'STL-10 label file not found: {path}')
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != num_images:
        raise ValueError(f'{path} holds {len(labels)} labels for {num_images} images; '
                         'the label and image files do not belong together.')
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ValueError(f'{path}: label {labels[bad[0]] + 1} at index {bad[0]} is outside '
                         f'1..{num_classes} (the classes of class_names.txt).')
    return labels


def read_class_names(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'STL-10 class names not found: {path}')
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names or len(set(names)) != len(names):
        raise ValueError(f'{path} must list distinct class names, one per line; got {names}')
    return names


def convert_split(src: str, out: str, split: str,
                  class_names: Optional[List[str]]) -> int:
    """Write one split as PNG folders; returns the number of images."""
    images = read_stl10_images(osp.join(src, f'{split}_X.bin'))
    if split == 'unlabeled':
        folders = ['unlabeled'] * len(images)
    else:
        labels = read_stl10_labels(osp.join(src, f'{split}_y.bin'), len(images),
                                   len(class_names))
        folders = [class_names[label] for label in labels]
    for name in set(folders):
        os.makedirs(osp.join(out, split, name), exist_ok=True)
    digits = len(str(len(images) - 1))
    for idx in tqdm(range(len(images)), desc=split, unit='img'):
        Image.fromarray(np.ascontiguousarray(images[idx])).save(
            osp.join(out, split, folders[idx], f'{idx:0{digits}d}.png'))
    return len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='the extracted stl10_binary folder')
    parser.add_argument('--out', default='data/stl10')
    parser.add_argument('--splits', nargs='+', choices=SPLITS, default=list(SPLITS))
    args = parser.parse_args()
    if not osp.isdir(args.src):
        raise FileNotFoundError(f'no such folder: {args.src} (extract stl10_binary.tar.gz)')
    labelled = [s for s in args.splits if s != 'unlabeled']
    class_names = read_class_names(osp.join(args.src, 'class_names.txt')) if labelled else None
    for split in args.splits:
        count = convert_split(args.src, args.out, split, class_names)
        print(f'{split}: {count} images -> {osp.join(args.out, split)}')


if __name__ == '__main__':
    main()
