from .knn import weighted_knn_accuracy, weighted_knn_predict
from .relation_agreement import kl_divergence, relation_distribution, topk_overlap

__all__ = [
    'kl_divergence', 'relation_distribution', 'topk_overlap', 'weighted_knn_accuracy',
    'weighted_knn_predict'
]
