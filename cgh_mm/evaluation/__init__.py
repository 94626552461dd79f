from .feature_extraction import extract_features, pooled_backbone_features
from .functional import weighted_knn_accuracy, weighted_knn_predict
from .metrics import WeightedKNNAccuracy

__all__ = [
    'extract_features', 'pooled_backbone_features', 'weighted_knn_accuracy',
    'weighted_knn_predict', 'WeightedKNNAccuracy'
]
