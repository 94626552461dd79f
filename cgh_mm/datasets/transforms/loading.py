from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmpretrain.registry import TRANSFORMS


class UnreadableImageError(OSError):
    """An image file that is missing, empty, truncated or cannot be decoded."""


@TRANSFORMS.register_module()
class LoadImageFromFileChecked(LoadImageFromFile):
    """An unreadable image stops the run with an error naming the file, problem and fix.

    mmcv's ``LoadImageFromFile`` whose failure is an :class:`UnreadableImageError`.
    mmcv's own failure is the backend's or the decoder's error (an empty file's does not
    name the file) or an assertion, "failed to load image", which ``python -O`` turns
    into an ``AttributeError`` on None. With ``ignore_empty=True`` mmcv skips (returns
    None for) what its decoder refuses."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except Exception as error:  # a truncated PNG or JPEG fails in cv2 and pillow too
            filename = results['img_path']
            if isinstance(error, FileNotFoundError):
                raise UnreadableImageError(
                    f'image file not found: {filename}. Check the dataset\'s data_root and '
                    'annotation file, or restore the file.') from None
            raise UnreadableImageError(
                f'cannot load image {filename}: it is empty, truncated or not an image '
                f'({type(error).__name__}: {error}). Replace or remove the file.') from error
