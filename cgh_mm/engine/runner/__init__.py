from .knn_val_loop import KNNValLoop, gather_features
