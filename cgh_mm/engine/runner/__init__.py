from .knn_val_loop import KNNValLoop, gather_features

__all__ = ['KNNValLoop', 'gather_features']
