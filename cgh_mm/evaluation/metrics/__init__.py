from .weighted_knn import WeightedKNNAccuracy
