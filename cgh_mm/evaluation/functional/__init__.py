from .clustering import clustering_metrics, hungarian_accuracy
from .knn import weighted_knn_accuracy, weighted_knn_predict
