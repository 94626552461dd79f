from .knn_val_loop import KNNValLoop, gather_features
from .resumable_loop import ResumableEpochBasedTrainLoop

__all__ = ['KNNValLoop', 'ResumableEpochBasedTrainLoop', 'gather_features']
