"""Convert the Fashion-MNIST idx files into a folder dataset for mmpretrain.

    python tools/dataset_converters/fashion_mnist_to_folder.py [SRC] [DST]

``SRC`` holds the four original files (``train-images-idx3-ubyte.gz``,
``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``; default: where the Debian package
``dataset-fashion-mnist`` puts them). ``DST`` receives
``{train,test}/<class>/<index>.png`` (28x28 grey PNGs), the layout that
mmpretrain's ``CustomDataset`` reads, and ``meta/{train,test}.txt`` (lines
``<class>/<index>.png <label>`` in the original file order, which is class-mixed:
``indices=N`` over these lists gives a class-balanced subset). A finished
conversion is detected by a marker file and skipped.
"""
import argparse
import gzip
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from tqdm import tqdm

DEFAULT_SRC = '/usr/share/datasets/fashion-mnist'
CLASSES = ('T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
           'Sneaker', 'Bag', 'Ankle_boot')
SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
    'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'),
}
MARKER = '.converted.json'


def required_files(src: str = DEFAULT_SRC) -> List[str]:
    """Paths of the four idx files the conversion reads."""
    return [osp.join(src, name) for pair in SPLIT_FILES.values() for name in pair]


def read_idx(path: str) -> np.ndarray:
    """Read a (gzipped) idx file: ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], 'big')
    if magic >> 8 != 0x08:  # 0x08: unsigned byte payload
        raise ValueError(f'{path} is not an idx file of unsigned bytes (magic {magic:#x}).')
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(shape)):
        raise ValueError(f'{path} is truncated: header says {shape}, got {payload.size} bytes.')
    return payload.reshape(shape)


def load_split(src: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 28, 28)`` and labels ``(N,)`` of ``'train'`` or ``'test'``."""
    images_name, labels_name = SPLIT_FILES[split]
    images = read_idx(osp.join(src, images_name))
    labels = read_idx(osp.join(src, labels_name))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f'{split}: {images.shape[0]} images but {labels.shape[0]} labels '
                         f'in {src}.')
    return images, labels


def is_converted(dst: str) -> bool:
    return osp.isfile(osp.join(dst, MARKER))


def convert(src: str = DEFAULT_SRC, dst: str = 'data/fashion-mnist',
            progress: bool = True) -> Dict[str, int]:
    """Write ``dst/{train,test}/<class>/<index>.png``; return the image count per split.

    Skips the work when ``dst`` holds a finished conversion.
    """
    missing = [p for p in required_files(src) if not osp.isfile(p)]
    if missing and not is_converted(dst):
        raise FileNotFoundError(
            f'Fashion-MNIST files missing: {missing}. Install the Debian package '
            '`dataset-fashion-mnist` (apt-get install dataset-fashion-mnist) or copy '
            f'the four idx .gz files into {src}.')
    if is_converted(dst):
        with open(osp.join(dst, MARKER)) as f:
            return json.load(f)
    counts = {}
    for split in SPLIT_FILES:
        images, labels = load_split(src, split)
        for name in CLASSES:
            os.makedirs(osp.join(dst, split, name), exist_ok=True)
        items = zip(images, labels)
        if progress:
            items = tqdm(items, total=len(labels), desc=f'fashion-mnist {split}', unit='img')
        lines = []
        for idx, (image, label) in enumerate(items):
            name = f'{CLASSES[int(label)]}/{idx:05d}.png'
            Image.fromarray(image, mode='L').save(osp.join(dst, split, name))
            lines.append(f'{name} {int(label)}\n')
        os.makedirs(osp.join(dst, 'meta'), exist_ok=True)
        with open(osp.join(dst, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
        counts[split] = int(len(labels))
    # Written last, so an interrupted conversion is redone.
    with open(osp.join(dst, MARKER), 'w') as f:
        json.dump(counts, f)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', nargs='?', default=DEFAULT_SRC, help='folder of the idx files')
    parser.add_argument('dst', nargs='?', default='data/fashion-mnist', help='output folder')
    args = parser.parse_args()
    counts = convert(args.src, args.dst)
    print(f'{args.dst}: ' + ', '.join(f'{k} {v} images' for k, v in counts.items()))


if __name__ == '__main__':
    main()
