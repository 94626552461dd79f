"""Convert the extracted stl10_binary.tar.gz into ``OUT/unlabeled/unlabeled/<idx>.png``
(one pseudo-class, for pretraining) and ``OUT/{train,test}/<class name>/<idx>.png``."""
import argparse
import os.path as osp

import mmcv
import numpy as np
from tqdm import tqdm

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE


def read_stl10_images(path: str) -> np.ndarray:
    """``(N, 96, 96, 3)`` RGB uint8 images (memory-mapped) of a channel-major, column-major
    ``*_X.bin`` file."""
    size = osp.getsize(path)  # FileNotFoundError names a missing file
    if size == 0 or size % IMAGE_BYTES:
        raise ValueError(f'{path}: {size} bytes is not a whole number of 96x96x3 images '
                         f'({IMAGE_BYTES} bytes each); the file is truncated or not an '
                         'STL-10 *_X.bin file. Download and extract it again.')
    raw = np.memmap(path, dtype=np.uint8, mode='r', shape=(size // IMAGE_BYTES, 3, SIDE, SIDE))
    return raw.transpose(0, 3, 2, 1)


def read_stl10_labels(path: str, num_images: int, num_classes: int) -> np.ndarray:
    """Labels of a ``*_y.bin`` file (1-based on disk), ``(N,)`` 0-based int64."""
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != num_images:
        raise ValueError(f'{path} holds {len(labels)} labels for {num_images} images; '
                         'the label and image files do not belong together.')
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ValueError(f'{path}: label {labels[bad[0]] + 1} at index {bad[0]} is outside '
                         f'1..{num_classes} (the classes of class_names.txt).')
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', help='the extracted stl10_binary folder')
    parser.add_argument('--out', default='data/stl10')
    parser.add_argument('--splits', nargs='+', choices=('unlabeled', 'train', 'test'),
                        default=['unlabeled', 'train', 'test'])
    args = parser.parse_args()
    names, names_file = [], osp.join(args.src, 'class_names.txt')
    if set(args.splits) - {'unlabeled'}:
        if not osp.isfile(names_file):
            raise FileNotFoundError(f'STL-10 class names not found: {names_file} (extract '
                                    'stl10_binary.tar.gz and give its folder)')
        with open(names_file) as f:
            names = [line.strip() for line in f if line.strip()]
        if not names or len(set(names)) != len(names):
            raise ValueError(f'{names_file} must list distinct class names, one per line.')
    for split in args.splits:
        images = read_stl10_images(osp.join(args.src, f'{split}_X.bin'))
        folders = ['unlabeled'] * len(images) if split == 'unlabeled' else [
            names[i] for i in read_stl10_labels(
                osp.join(args.src, f'{split}_y.bin'), len(images), len(names))]
        digits = len(str(len(images) - 1))
        for idx in tqdm(range(len(images)), desc=split, unit='img', disable=None):
            mmcv.imwrite(images[idx][..., ::-1],  # RGB to BGR; the folders are created
                         osp.join(args.out, split, folders[idx], f'{idx:0{digits}d}.png'))
        print(f'{split}: {len(images)} images -> {osp.join(args.out, split)}')


if __name__ == '__main__':
    main()
