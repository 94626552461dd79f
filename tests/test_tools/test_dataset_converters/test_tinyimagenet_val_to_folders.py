
import mmcv
import numpy as np
from mmpretrain.registry import DATASETS

from tests.helpers import load_tool, raises_stating

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'dataset_converters' / 'tinyimagenet_val_to_folders.py'
LABELS = {'val_0.JPEG': 'n01443537', 'val_1.JPEG': 'n01629819', 'val_2.JPEG': 'n01443537'}


def make_tiny_imagenet(root):
    images = root / 'val' / 'images'
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for name, wnid in LABELS.items():
        mmcv.imwrite(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), str(images / name))
        lines.append(f'{name}\t{wnid}\t0\t0\t63\t63')
    (root / 'val' / 'val_annotations.txt').write_text('\n'.join(lines) + '\n')
    (root / 'wnids.txt').write_text('n01443537\nn01629819\n')
    return root


def test_sorts_val_in_place_for_custom_dataset(tmp_path):
    root = make_tiny_imagenet(tmp_path / 'tiny-imagenet-200')
    assert load_tool(TOOL).sort_val(str(root)) == 3
    val = root / 'val'
    assert not (val / 'images').exists()
    for name, wnid in LABELS.items():
        assert (val / wnid / name).is_file()
    dataset = DATASETS.build(dict(type='CustomDataset', data_root=str(val), pipeline=[
        dict(type='LoadImageFromFileChecked')]))
    assert dataset.CLASSES == ('n01443537', 'n01629819')
    assert sorted(int(dataset.get_data_info(i)['gt_label']) for i in range(3)) == [0, 0, 1]
    assert dataset[0]['img'].shape == (64, 64, 3)
    # the folder that is gone, and the one the tool expects
    with raises_stating(FileNotFoundError, val / 'images', 'tiny-imagenet-200'):
        load_tool(TOOL).sort_val(str(root))


def test_copy_to_out_keeps_source(tmp_path):
    root = make_tiny_imagenet(tmp_path / 'tiny')
    out = tmp_path / 'val_sorted'
    assert load_tool(TOOL).sort_val(str(root), str(out)) == 3
    assert len(list((root / 'val' / 'images').iterdir())) == 3
    assert sorted(p.name for p in (out / 'n01443537').iterdir()) == ['val_0.JPEG', 'val_2.JPEG']


def test_missing_and_unannotated_images_are_named_before_moving(tmp_path):
    root = make_tiny_imagenet(tmp_path / 'a')
    (root / 'val' / 'images' / 'val_1.JPEG').unlink()
    with raises_stating(FileNotFoundError, root / 'val' / 'images' / 'val_1.JPEG'):
        load_tool(TOOL).sort_val(str(root))
    assert len(list((root / 'val' / 'images').iterdir())) == 2  # nothing moved

    root = make_tiny_imagenet(tmp_path / 'b')
    (root / 'val' / 'images' / 'stray.JPEG').write_bytes(b'x')
    with raises_stating(ValueError, root / 'val' / 'images', 'stray.JPEG', 'val_annotations.txt'):
        load_tool(TOOL).sort_val(str(root))

    root = make_tiny_imagenet(tmp_path / 'c')
    (root / 'wnids.txt').write_text('n01443537\n')
    with raises_stating(ValueError, 'n01629819', root / 'wnids.txt'):
        load_tool(TOOL).sort_val(str(root))
