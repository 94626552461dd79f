import mmcv
import numpy as np
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ContiguousRandomResizedCrop(RandomResizedCrop):
    """Faster CPU loaders: the same random draws and the same pixels as mmpretrain's
    ``RandomResizedCrop``, the crop copied into a contiguous array before it is resized.

    mmpretrain resizes the crop, a strided view of the image; with the Pillow backend,
    ``Image.fromarray`` then copies the view pixel by pixel (about 1 ms for a crop of a
    500x375 photo, ``tools/analysis/loader_benchmark.py``), where a contiguous copy
    first takes a few microseconds.
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        offset_h, offset_w, target_h, target_w = self.rand_crop_params(img)
        img = np.ascontiguousarray(img[offset_h:offset_h + target_h,
                                       offset_w:offset_w + target_w])
        img = mmcv.imresize(img, tuple(self.scale[::-1]), interpolation=self.interpolation,
                            backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape
        return results
