from .loading import LoadImageFromFileChecked, UnreadableImageError, image_truncation
from .processing import ContiguousRandomResizedCrop
