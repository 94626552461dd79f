"""Fashion-MNIST as a folder dataset, for the demo and the study: the idx files (default:
the Debian package's) written as DST/{train,test}/<class>/<index>.png and
DST/meta/{train,test}.txt (``<class>/<index>.png <label>`` lines in the original
class-mixed order: ``indices=N`` is class-balanced)."""
import json
import os.path as osp
from typing import Dict, List

import mmcv
import numpy as np
from tqdm import tqdm

from ..runtime.checkpoint import write_file_atomically

DEFAULT_SRC = '/usr/share/datasets/fashion-mnist'
DEBIAN_PACKAGE = 'dataset-fashion-mnist'
CLASSES = ('T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
           'Sneaker', 'Bag', 'Ankle_boot')
SPLIT_FILES = {split: (f'{prefix}-images-idx3-ubyte.gz', f'{prefix}-labels-idx1-ubyte.gz')
               for split, prefix in (('train', 'train'), ('test', 't10k'))}
MARKER = '.converted.json'


def missing_files(src: str = DEFAULT_SRC) -> List[str]:
    paths = (osp.join(src, name) for pair in SPLIT_FILES.values() for name in pair)
    return [path for path in paths if not osp.isfile(path)]


def read_idx(path: str) -> np.ndarray:
    """A (gzipped) idx file: ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels."""
    from mmpretrain.datasets.mnist import read_sn3_pascalvincent_tensor
    try:
        return read_sn3_pascalvincent_tensor(path).numpy()
    except AssertionError as err:  # its header checks and the size check are asserts
        raise ValueError(f'{path} is truncated or not an idx file: its size does not match '
                         'its header. Copy or download it again.') from err


def is_converted(dst: str) -> bool:
    return osp.isfile(osp.join(dst, MARKER))


def convert(src: str = DEFAULT_SRC, dst: str = 'data/fashion-mnist',
            progress: bool = True) -> Dict[str, int]:
    """Write the folder dataset into ``dst``, unless done before; images per split."""
    if is_converted(dst):
        with open(osp.join(dst, MARKER)) as f:
            return json.load(f)
    missing = missing_files(src)
    if missing:
        raise FileNotFoundError(
            f'Fashion-MNIST files missing: {missing}. Install the Debian package '
            f'`{DEBIAN_PACKAGE}` (apt-get install {DEBIAN_PACKAGE}) or copy '
            f'the four idx .gz files into {src}.')
    counts = {}
    for split, names in SPLIT_FILES.items():
        images, labels = (read_idx(osp.join(src, name)) for name in names)
        if len(images) != len(labels):
            raise ValueError(f'{split}: {len(images)} images but {len(labels)} labels in {src}.')
        lines = []
        for idx, (image, label) in enumerate(tqdm(zip(images, labels), total=len(labels),
                                                  desc=split, disable=None if progress else True)):
            name = f'{CLASSES[label]}/{idx:05d}.png'
            mmcv.imwrite(image, osp.join(dst, split, name))  # creates the class folder
            lines.append(f'{name} {label}\n')
        write_file_atomically(osp.join(dst, 'meta', f'{split}.txt'), ''.join(lines).encode())
        counts[split] = len(labels)
    # written last: an interrupted conversion is done again
    write_file_atomically(osp.join(dst, MARKER), json.dumps(counts).encode())
    return counts
