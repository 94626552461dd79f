"""Convert the Fashion-MNIST idx files (SRC: default, the Debian package's) into
DST/{train,test}/<class>/<index>.png and DST/meta/{train,test}.txt (``<class>/<index>.png
<label>`` lines in the original class-mixed order: ``indices=N`` is class-balanced)."""
import argparse
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
SPLIT_FILES = {split: (f'{prefix}-images-idx3-ubyte.gz', f'{prefix}-labels-idx1-ubyte.gz')
               for split, prefix in (('train', 'train'), ('test', 't10k'))}
MARKER = '.converted.json'


def required_files(src: str = DEFAULT_SRC) -> List[str]:
    return [osp.join(src, name) for pair in SPLIT_FILES.values() for name in pair]


def read_idx(path: str) -> np.ndarray:
    """A (gzipped) idx file: ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels."""
    from mmpretrain.datasets.mnist import read_sn3_pascalvincent_tensor
    try:
        return read_sn3_pascalvincent_tensor(path).numpy()
    except AssertionError as err:  # its header checks and the size check are asserts
        raise ValueError(f'{path} is truncated or not an idx file: its size does not match '
                         'its header. Copy or download it again.') from err


def load_split(src: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 28, 28)`` and labels ``(N,)`` of ``'train'`` or ``'test'``."""
    images, labels = (read_idx(osp.join(src, name)) for name in SPLIT_FILES[split])
    if len(images) != len(labels):
        raise ValueError(f'{split}: {len(images)} images but {len(labels)} labels in {src}.')
    return images, labels


def is_converted(dst: str) -> bool:
    return osp.isfile(osp.join(dst, MARKER))


def convert(src: str = DEFAULT_SRC, dst: str = 'data/fashion-mnist',
            progress: bool = True) -> Dict[str, int]:
    """Write the folder dataset into ``dst``, unless done before; images per split."""
    if is_converted(dst):
        with open(osp.join(dst, MARKER)) as f:
            return json.load(f)
    missing = [p for p in required_files(src) if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f'Fashion-MNIST files missing: {missing}. Install the Debian package '
            '`dataset-fashion-mnist` (apt-get install dataset-fashion-mnist) or copy '
            f'the four idx .gz files into {src}.')
    from cgh_mm.utils.checkpoint import write_file_atomically
    counts = {}
    for split in SPLIT_FILES:
        images, labels = load_split(src, split)
        for name in CLASSES:
            os.makedirs(osp.join(dst, split, name), exist_ok=True)
        lines = []
        for idx, (image, label) in enumerate(tqdm(zip(images, labels), total=len(labels),
                                                  desc=split, disable=not progress)):
            name = f'{CLASSES[label]}/{idx:05d}.png'
            Image.fromarray(image, mode='L').save(osp.join(dst, split, name))
            lines.append(f'{name} {label}\n')
        write_file_atomically(osp.join(dst, 'meta', f'{split}.txt'), ''.join(lines).encode())
        counts[split] = len(labels)
    # written last: an interrupted conversion is done again
    write_file_atomically(osp.join(dst, MARKER), json.dumps(counts).encode())
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', nargs='?', default=DEFAULT_SRC, help='folder of the idx files')
    parser.add_argument('dst', nargs='?', default='data/fashion-mnist', help='output folder')
    args = parser.parse_args()
    counts = convert(args.src, args.dst)
    print(f'{args.dst}: ' + ', '.join(f'{k} {v} images' for k, v in counts.items()))


if __name__ == '__main__':
    main()
