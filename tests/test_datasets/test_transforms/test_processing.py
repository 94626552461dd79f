import numpy as np
import pytest
from mmpretrain.datasets.transforms import RandomResizedCrop

from cgh_mm.datasets.transforms import ContiguousRandomResizedCrop


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_contiguous_crop_draws_and_resizes_as_mmpretrains(backend):
    img = np.random.default_rng(0).integers(0, 256, (75, 100, 3), dtype=np.uint8)
    args = dict(scale=24, crop_ratio_range=(0.2, 1.0), backend=backend)
    for seed in range(5):
        np.random.seed(seed)
        expected = RandomResizedCrop(**args)(dict(img=img))
        np.random.seed(seed)
        got = ContiguousRandomResizedCrop(**args)(dict(img=img))
        assert np.array_equal(got['img'], expected['img'])
        assert got['img_shape'] == expected['img_shape'] == (24, 24, 3)
