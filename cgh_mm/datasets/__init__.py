from .synthetic_dataset import SyntheticImageDataset

__all__ = ['SyntheticImageDataset']
