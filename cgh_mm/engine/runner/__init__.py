from .knn_val_loop import KNNValLoop, gather_features
from .resumable_loop import ResumableEpochBasedTrainLoop
