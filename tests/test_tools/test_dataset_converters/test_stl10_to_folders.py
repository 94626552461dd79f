import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers import load_tool, raises_stating

from ..dist_helpers import REPO, tool_env

TOOL = REPO / 'tools' / 'dataset_converters' / 'stl10_to_folders.py'
CLASSES = ['airplane', 'bird', 'car']


def write_stl10_images(path, images):
    """STL-10 layout: per image channel-major, each channel column-major."""
    path.write_bytes(np.ascontiguousarray(images.transpose(0, 3, 2, 1)).tobytes())


def make_stl10(root, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir()
    data = {}
    for split, count in (('unlabeled', 3), ('train', 4), ('test', 2)):
        images = rng.integers(0, 256, (count, 96, 96, 3), dtype=np.uint8)
        # a non-symmetric pattern so a wrong transpose would show
        images[:, :10, :40] = 255
        write_stl10_images(root / f'{split}_X.bin', images)
        data[split] = images
    data['train_y'] = np.array([1, 3, 3, 2], dtype=np.uint8)
    data['test_y'] = np.array([2, 1], dtype=np.uint8)
    data['train_y'].tofile(root / 'train_y.bin')
    data['test_y'].tofile(root / 'test_y.bin')
    (root / 'class_names.txt').write_text('\n'.join(CLASSES) + '\n')
    return data


def run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], env=tool_env(),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_converts_all_splits_to_class_folders(tmp_path):
    data = make_stl10(tmp_path / 'stl10_binary')
    out = tmp_path / 'stl10'
    proc = run(tmp_path / 'stl10_binary', '--out', out)
    assert proc.returncode == 0, proc.stderr
    assert 'train: 4 images' in proc.stdout

    assert sorted(p.name for p in (out / 'unlabeled' / 'unlabeled').iterdir()) == \
        ['0.png', '1.png', '2.png']
    for i in range(3):
        pixels = np.asarray(Image.open(out / 'unlabeled' / 'unlabeled' / f'{i}.png'))
        np.testing.assert_array_equal(pixels, data['unlabeled'][i])
    for split in ('train', 'test'):
        for idx, label in enumerate(data[f'{split}_y']):
            png = out / split / CLASSES[label - 1] / f'{idx}.png'
            np.testing.assert_array_equal(np.asarray(Image.open(png)), data[split][idx])
    assert sorted(p.name for p in (out / 'train').iterdir()) == ['airplane', 'bird', 'car']
    assert sorted(p.name for p in (out / 'test').iterdir()) == ['airplane', 'bird']


@pytest.mark.slow
def test_truncated_or_mismatched_files_are_named(tmp_path):
    src = tmp_path / 'stl10_binary'
    make_stl10(src)
    cut = src / 'train_X.bin'
    cut.write_bytes(cut.read_bytes()[:-100])
    proc = run(src, '--out', tmp_path / 'out', '--splits', 'train')
    assert proc.returncode != 0
    assert f'{cut}' in proc.stderr and 'truncated' in proc.stderr

    src2 = tmp_path / 'other'
    make_stl10(src2)
    np.array([1, 2, 9, 1], dtype=np.uint8).tofile(src2 / 'train_y.bin')
    proc = run(src2, '--out', tmp_path / 'out2', '--splits', 'train')
    assert proc.returncode != 0
    for fact in ('train_y.bin', 'label 9', 'index 2', '1..3'):
        assert fact in proc.stderr, fact


def test_reader_functions(tmp_path):
    tool = load_tool(TOOL)
    data = make_stl10(tmp_path / 'src')
    images = tool.read_stl10_images(str(tmp_path / 'src' / 'test_X.bin'))
    assert images.shape == (2, 96, 96, 3)
    np.testing.assert_array_equal(images, data['test'])
    with raises_stating(ValueError, tmp_path / 'src' / 'test_y.bin', '2 labels', '5 images'):
        tool.read_stl10_labels(str(tmp_path / 'src' / 'test_y.bin'), 5, 3)
