from .weighted_knn import WeightedKNNAccuracy

__all__ = ['WeightedKNNAccuracy']
