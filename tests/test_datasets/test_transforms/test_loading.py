import mmcv
import numpy as np
import pytest
from mmpretrain.registry import DATASETS, TRANSFORMS

from cgh_mm.datasets import UnreadableImageError
from tests.helpers import raises_stating


def write_image(path, seed=0):
    img = np.random.default_rng(seed).integers(0, 255, (16, 20, 3), dtype=np.uint8)
    assert mmcv.imwrite(img, str(path))
    return img


@pytest.fixture
def loader():
    return TRANSFORMS.build(dict(type='LoadImageFromFileChecked'))


def test_loads_good_png_and_jpeg(tmp_path, loader):
    img = write_image(tmp_path / 'a.png')
    out = loader(dict(img_path=str(tmp_path / 'a.png')))
    np.testing.assert_array_equal(out['img'], img)
    assert out['img_shape'] == (16, 20)
    write_image(tmp_path / 'b.jpg')
    assert loader(dict(img_path=str(tmp_path / 'b.jpg')))['img'].shape == (16, 20, 3)


@pytest.mark.parametrize('suffix', ['png', 'jpg'])
def test_truncated_image_names_the_file(tmp_path, loader, suffix):
    path = tmp_path / f'cut.{suffix}'
    write_image(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with raises_stating(UnreadableImageError, path, 'truncated', 'Replace or remove'):
        loader(dict(img_path=str(path)))


def test_corrupt_empty_and_missing_files_name_the_file(tmp_path, loader):
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'this is not an image at all')
    with raises_stating(UnreadableImageError, garbage):
        loader(dict(img_path=str(garbage)))
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with raises_stating(UnreadableImageError, empty, 'empty'):
        loader(dict(img_path=str(empty)))
    missing = tmp_path / 'missing.png'
    with raises_stating(UnreadableImageError, missing, 'not found'):
        loader(dict(img_path=str(missing)))


def test_custom_dataset_with_checked_loader_and_empty_folder(tmp_path):
    root = tmp_path / 'data'
    for cls in ('cat', 'dog'):
        (root / cls).mkdir(parents=True)
        write_image(root / cls / '0.png')
    (root / 'dog' / '1.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    dataset = DATASETS.build(dict(type='CustomDataset', data_root=str(root),
                                  pipeline=[dict(type='LoadImageFromFileChecked')]))
    assert len(dataset) == 3
    assert dataset[0]['img'].shape == (16, 20, 3)
    with raises_stating(UnreadableImageError, root / 'dog' / '1.png'):
        dataset[2]
    # an empty dataset folder is refused, naming it
    empty = tmp_path / 'empty'
    (empty / 'cat').mkdir(parents=True)
    with raises_stating(RuntimeError, '0 files', empty):
        DATASETS.build(dict(type='CustomDataset', data_root=str(empty), pipeline=[]))
