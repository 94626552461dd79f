import os.path as osp
from collections import Counter

import pytest

from tests.helpers import raises_stating, run_tool

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters',
                'make_semi_supervised_split.py')
WNIDS = ('n01440764', 'n01443537', 'n01484850')


@pytest.fixture
def image_folder(tmp_path):
    """ImageNet-style train folder: 3 classes with 10, 12 and 14 images."""
    root = tmp_path / 'train'
    for c, wnid in enumerate(WNIDS):
        (root / wnid).mkdir(parents=True)
        for i in range(10 + 2 * c):
            (root / wnid / f'{wnid}_{i}.JPEG').write_bytes(b'\xff\xd8')
    (root / WNIDS[0] / 'notes.txt').write_text('not an image')
    return root


def read_lines(path):
    return [line.split() for line in path.read_text().splitlines()]


def test_subset_file_gives_annotation_lines(image_folder, tmp_path):
    subset = tmp_path / '1percent.txt'
    subset.write_text(f'{WNIDS[2]}_3.JPEG\n{WNIDS[0]}_7.JPEG\n\n{WNIDS[1]}_11.JPEG\n')
    out = tmp_path / 'meta' / 'train_1percent.txt'
    run_tool(TOOL, image_folder, '--subset-file', subset, '--out', out)
    assert read_lines(out) == [[f'{WNIDS[0]}/{WNIDS[0]}_7.JPEG', '0'],
                               [f'{WNIDS[1]}/{WNIDS[1]}_11.JPEG', '1'],
                               [f'{WNIDS[2]}/{WNIDS[2]}_3.JPEG', '2']]


def test_subset_file_naming_absent_images_is_an_error(image_folder, tmp_path):
    subset = tmp_path / '1percent.txt'
    subset.write_text(f'{WNIDS[0]}_1.JPEG\n{WNIDS[1]}_99.JPEG\nn99999999_1.JPEG\n')
    # how many of how many, the list they came from, and which ones
    with raises_stating(FileNotFoundError, '2 of the 3', subset, f'{WNIDS[1]}_99.JPEG',
                        'n99999999_1.JPEG'):
        run_tool(TOOL, image_folder, '--subset-file', subset, '--out', tmp_path / 'o.txt')
    assert not (tmp_path / 'o.txt').exists()


def test_balanced_subset_is_balanced_and_seeded(image_folder, tmp_path):
    def draw(seed, name):
        out = tmp_path / name
        # 36 images, 3 classes: a third of them is 4 per class
        run_tool(TOOL, image_folder, '--fraction', 1 / 3, '--seed', seed, '--out', out)
        return read_lines(out)

    first, again, other = draw(0, 'a.txt'), draw(0, 'b.txt'), draw(1, 'c.txt')
    assert Counter(label for _, label in first) == {'0': 4, '1': 4, '2': 4}
    for path, label in first:
        wnid, name = path.split('/')
        assert (image_folder / wnid / name).exists() and WNIDS.index(wnid) == int(label)
    assert first == again
    assert first != other
    assert len({path for path, _ in first}) == 12


def test_balanced_subset_larger_than_a_class_is_an_error(image_folder, tmp_path):
    # the number asked for, and the classes that have fewer (only those) with their counts
    with raises_stating(ValueError, '11', f"'{WNIDS[0]}': 10") as err:
        run_tool(TOOL, image_folder, '--per-class', 11, '--out', tmp_path / 'o.txt')
    assert WNIDS[1] not in str(err.value) and WNIDS[2] not in str(err.value)
