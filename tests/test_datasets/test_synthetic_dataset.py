import numpy as np

from cgh_mm.datasets import SyntheticImageDataset
from tests.helpers import raises_stating


def test_images_depend_only_on_the_seed_and_classes_are_balanced():
    first, again = (SyntheticImageDataset(num_images=12, image_size=16, num_classes=3, seed=1)
                    for _ in range(2))
    other = SyntheticImageDataset(num_images=12, image_size=16, num_classes=3, seed=2)
    assert len(first) == 12 and first.metainfo['classes'] == ['class_0', 'class_1', 'class_2']
    sample = first.get_data_info(0)
    assert sample['img'].shape == (16, 16, 3) and sample['img'].dtype == np.uint8
    assert all(np.array_equal(first.get_data_info(i)['img'], again.get_data_info(i)['img'])
               for i in range(12))
    assert not np.array_equal(sample['img'], other.get_data_info(0)['img'])
    labels = [first.get_data_info(i)['gt_label'] for i in range(12)]
    assert sorted(labels) == [0] * 4 + [1] * 4 + [2] * 4


def test_bad_sizes_are_named():
    # the bound broken and the values given (num_images, image_size, num_classes)
    with raises_stating(ValueError, 'image_size >= 8', '4, 4, 2'):
        SyntheticImageDataset(num_images=4, image_size=4, num_classes=2)


def test_indices_select_a_subset_as_in_every_mmengine_dataset():
    full = SyntheticImageDataset(num_images=12, image_size=16, num_classes=3)
    first = SyntheticImageDataset(num_images=12, image_size=16, num_classes=3, indices=5)
    listed = SyntheticImageDataset(num_images=12, image_size=16, num_classes=3, indices=[3, 7])
    assert len(first) == 5 and len(listed) == 2
    assert np.array_equal(listed.get_data_info(1)['img'], full.get_data_info(7)['img'])
