"""cgh_mm/datasets/fashion_mnist_folder.py and its command,
tools/dataset_converters/fashion_mnist_to_folder.py."""
import gzip
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import cgh_mm.datasets.fashion_mnist_folder as fm
from tests.helpers import TOOLS, raises_stating, run_tool

TOOL = osp.join(TOOLS, 'dataset_converters', 'fashion_mnist_to_folder.py')


def _write_idx(path, array):
    header = (0x0800 | array.ndim).to_bytes(4, 'big') + b''.join(
        int(d).to_bytes(4, 'big') for d in array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / 'src'
    src.mkdir()
    for split, n in (('train', 6), ('test', 3)):
        images_name, labels_name = fm.SPLIT_FILES[split]
        _write_idx(src / images_name, rng.integers(0, 256, size=(n, 28, 28)))
        _write_idx(src / labels_name, np.arange(n) % 10)
    return str(src)


def test_convert_writes_folders_and_lists(idx_dir, tmp_path):
    dst = str(tmp_path / 'fm')
    assert fm.convert(idx_dir, dst, progress=False) == {'train': 6, 'test': 3}
    images, labels = (fm.read_idx(osp.join(idx_dir, name)) for name in fm.SPLIT_FILES['train'])
    png = osp.join(dst, 'train', fm.CLASSES[labels[4]], '00004.png')
    np.testing.assert_array_equal(np.asarray(Image.open(png)), images[4])
    with open(osp.join(dst, 'meta', 'test.txt')) as f:
        assert f.read().splitlines() == [
            f'{fm.CLASSES[i]}/{i:05d}.png {i}' for i in range(3)]
    # A finished conversion is skipped, even without the source files.
    assert fm.convert(str(tmp_path / 'gone'), dst, progress=False) == {'train': 6, 'test': 3}


def test_missing_files_are_named(tmp_path):
    # a missing file by its path, the package that installs them, the folder to copy them to
    with raises_stating(FileNotFoundError, tmp_path / 'train-images-idx3-ubyte.gz',
                        'apt-get install dataset-fashion-mnist'):
        fm.convert(str(tmp_path), str(tmp_path / 'out'), progress=False)


def test_truncated_file_is_refused(idx_dir, tmp_path):
    path = osp.join(idx_dir, 'bad.gz')
    with gzip.open(path, 'wb') as f:
        f.write((0x0803).to_bytes(4, 'big') + b''.join(
            d.to_bytes(4, 'big') for d in (2, 28, 28)) + b'\0' * 10)
    with raises_stating(ValueError, path, 'truncated'):
        fm.read_idx(path)


def test_the_command_converts_and_says_how_many(idx_dir, tmp_path):
    dst = tmp_path / 'fm'
    out = run_tool(TOOL, idx_dir, dst)
    assert out.strip() == f'{dst}: train 6 images, test 3 images'
    assert (dst / 'meta' / 'train.txt').read_text().count('\n') == 6
