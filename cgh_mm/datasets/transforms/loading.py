import os.path as osp
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmpretrain.registry import TRANSFORMS

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_JPEG_START, _JPEG_END = b'\xff\xd8', b'\xff\xd9'


class UnreadableImageError(OSError):
    """An image file that is missing, empty, truncated or cannot be decoded."""


def image_truncation(data: bytes) -> Optional[str]:
    """Why ``data`` (a whole PNG or JPEG file) is cut short, or None if it looks whole.

    Decoders often return a partly grey image for a truncated file, so the end marker
    is checked: PNG's ``IEND`` chunk, JPEG's ``FFD9`` (padding allowed after it).
    """
    if not data:
        return 'the file is empty'
    if data.startswith(_PNG_SIGNATURE) and b'IEND' not in data[-12:]:
        return 'PNG without its IEND chunk (truncated)'
    if data.startswith(_JPEG_START) and not data.rstrip(b'\x00\n\r ').endswith(_JPEG_END):
        return 'JPEG without its end-of-image marker (truncated)'
    return None


@TRANSFORMS.register_module()
class LoadImageFromFileChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` (``ignore_empty`` refused) that raises an
    :class:`UnreadableImageError` naming a missing, empty, truncated (``check_truncation``:
    PNG/JPEG end markers) or undecodable image, instead of an assertion, a partly grey
    image or a skipped sample."""

    def __init__(self, check_truncation: bool = True, **kwargs) -> None:
        if kwargs.get('ignore_empty', False):
            raise ValueError('LoadImageFromFileChecked reports unreadable images; use '
                             "mmcv's LoadImageFromFile to skip them (ignore_empty=True).")
        super().__init__(**kwargs)
        self.check_truncation = check_truncation

    def transform(self, results: dict) -> dict:
        filename = results['img_path']
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError:
            raise UnreadableImageError(f'image file not found: {filename}') from None
        except Exception as error:
            raise UnreadableImageError(f'cannot read image file {filename}: {error}') from error
        problem = image_truncation(data) if self.check_truncation else None
        if problem is None:
            try:
                img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
            except Exception as error:
                img, problem = None, f'decoder error: {error}'
            if img is None and problem is None:
                problem = 'not a decodable image'
        if problem is not None:
            raise UnreadableImageError(
                f'cannot load image {filename}: {problem}. Replace or remove the file '
                f'(size {osp.getsize(filename) if osp.isfile(filename) else "?"} bytes).')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', check_truncation={self.check_truncation})'
