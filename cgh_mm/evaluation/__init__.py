from .feature_sets import (
    add_feature_arguments,
    compute_feature_sets,
    extract_features,
    feature_sets_from_args,
    load_feature_sets,
    pooled_backbone_features,
    save_feature_sets,
)
from .functional import (
    clustering_metrics,
    hungarian_accuracy,
    weighted_knn_accuracy,
    weighted_knn_predict,
)
from .metrics import WeightedKNNAccuracy
