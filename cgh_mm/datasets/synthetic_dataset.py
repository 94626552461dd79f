from typing import List, Optional, Sequence, Union

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class SyntheticImageDataset(BaseDataset):
    """Training, tests and benchmarks with no dataset on disk.

    Generated RGB images with a class structure, held in memory: class ``c`` draws
    blobs of a colour and at places that depend on ``c`` over noise, so a learnt
    representation separates the classes and a random one poorly. For tests, benchmarks
    and demos with no dataset on disk; the images depend only on ``seed``.

    Args:
        num_images, image_size (square side, pixels), num_classes, seed: as named.
        pipeline: mmpretrain transforms; images enter as ``results['img']`` (HWC uint8).
        indices: as in mmengine's ``BaseDataset``: the first ``indices`` images, or those
            listed.
    """

    def __init__(self, num_images: int = 64, image_size: int = 64, num_classes: int = 4,
                 seed: int = 0, pipeline: Sequence = (), test_mode: bool = False,
                 classes: Optional[Sequence[str]] = None, lazy_init: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None) -> None:
        if num_images <= 0 or image_size < 8 or num_classes <= 0:
            raise ValueError('SyntheticImageDataset needs num_images > 0, image_size >= 8 and '
                             f'num_classes > 0, got {num_images}, {image_size}, {num_classes}.')
        self.num_images, self.image_size = num_images, image_size
        self.num_classes, self.seed = num_classes, seed
        classes = classes or [f'class_{c}' for c in range(num_classes)]
        super().__init__(ann_file='', metainfo=dict(classes=classes), pipeline=pipeline,
                         test_mode=test_mode, lazy_init=lazy_init, indices=indices)

    def _make_image(self, rng: np.random.Generator, label: int) -> np.ndarray:
        size = self.image_size
        class_rng = np.random.default_rng(1000 + label)
        colour = class_rng.integers(40, 256, size=3)
        centres = class_rng.uniform(0.2, 0.8, size=(3, 2)) * size
        img = rng.normal(100, 25, size=(size, size, 3))
        yy, xx = np.mgrid[:size, :size]
        for cy, cx in centres + rng.normal(0, size * 0.05, size=(3, 2)):
            radius = size * rng.uniform(0.08, 0.15)
            mask = (yy - cy)**2 + (xx - cx)**2 < radius**2
            img[mask] = colour + rng.normal(0, 10, size=3)
        return np.clip(img, 0, 255).astype(np.uint8)

    def load_data_list(self) -> List[dict]:
        rng = np.random.default_rng(self.seed)
        labels = np.arange(self.num_images) % self.num_classes
        rng.shuffle(labels)
        return [
            dict(img=self._make_image(rng, int(label)), gt_label=int(label),
                 img_shape=(self.image_size, self.image_size), sample_idx=i)
            for i, label in enumerate(labels)
        ]
