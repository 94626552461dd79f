from .view_augment_data_preprocessor import (
                                             BatchColorJitter,
                                             BatchGaussianBlur,
                                             BatchRandomGrayscale,
                                             BatchSolarize,
                                             ViewAugmentDataPreprocessor,
)

__all__ = ['ViewAugmentDataPreprocessor', 'BatchColorJitter', 'BatchRandomGrayscale',
           'BatchGaussianBlur', 'BatchSolarize']
