from .loading import LoadImageFromFileChecked, UnreadableImageError, image_truncation

__all__ = ['LoadImageFromFileChecked', 'UnreadableImageError', 'image_truncation']
