from .synthetic_dataset import SyntheticImageDataset
from .transforms import LoadImageFromFileChecked, UnreadableImageError

__all__ = ['LoadImageFromFileChecked', 'SyntheticImageDataset', 'UnreadableImageError']
