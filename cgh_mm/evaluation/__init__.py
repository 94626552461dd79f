from .features import extract_features, pooled_backbone_features
from .functional import (
    weighted_knn_accuracy,
    weighted_knn_predict,
)
from .metrics import WeightedKNNAccuracy
