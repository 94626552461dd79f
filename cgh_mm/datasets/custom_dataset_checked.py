import logging
import os.path as osp
from collections import Counter

from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class CustomDatasetChecked(CustomDataset):
    """The images that a folder dataset's ``extensions`` skip are reported, not lost silently.

    mmpretrain's :class:`CustomDataset` that says which files its ``extensions`` filter
    left out of a scanned folder: a warning with their count per extension (e.g. ``.webp``
    images, not in the default list), and, when no file is left, an error naming them.
    Takes the arguments of ``CustomDataset``."""

    def __init__(self, *args, **kwargs) -> None:
        self._skipped: Counter = Counter()  # the base class scans while it initialises
        super().__init__(*args, **kwargs)

    def is_valid_file(self, filename: str) -> bool:
        valid = super().is_valid_file(filename)
        if not valid:
            self._skipped[osp.splitext(filename)[1].lower() or '(no extension)'] += 1
        return valid

    def _skipped_files(self) -> str:
        counts = ', '.join(f'{count} {ext}' for ext, count in sorted(
            self._skipped.items(), key=lambda item: (-item[1], item[0])))
        extensions = ', '.join(sorted(self.extensions))
        return (f'{sum(self._skipped.values())} files under {self.img_prefix.rstrip("/")} were '
                f'skipped, their extension not being one of {extensions}: {counts}. If some '
                "are images, add their extensions to the dataset's `extensions` (e.g. "
                '--cfg-options "train_dataloader.dataset.extensions='
                "['.jpg','.jpeg','.png','.webp']\")")

    def _find_samples(self):
        self._skipped.clear()
        try:
            samples = super()._find_samples()
        except RuntimeError as err:
            if not self._skipped:
                raise
            raise RuntimeError(f'{err}. {self._skipped_files()}.') from err
        if self._skipped:
            print_log(f'{type(self).__name__}: {self._skipped_files()}.', logger='current',
                      level=logging.WARNING)
        return samples
