from .loading import LoadImageFromFileChecked, UnreadableImageError, image_truncation
