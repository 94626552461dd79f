from .feature_extraction import extract_features, pooled_backbone_features
from .feature_sets import (
                           add_feature_arguments,
                           compute_feature_sets,
                           feature_sets_from_args,
                           load_feature_sets,
                           save_feature_sets,
)
from .functional import (
                           clustering_metrics,
                           hungarian_accuracy,
                           weighted_knn_accuracy,
                           weighted_knn_predict,
)
from .metrics import WeightedKNNAccuracy

__all__ = [
    'extract_features', 'pooled_backbone_features', 'weighted_knn_accuracy',
    'weighted_knn_predict', 'clustering_metrics', 'hungarian_accuracy',
    'add_feature_arguments', 'compute_feature_sets', 'feature_sets_from_args',
    'load_feature_sets', 'save_feature_sets', 'WeightedKNNAccuracy'
]
