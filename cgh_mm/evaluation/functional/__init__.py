from .knn import weighted_knn_accuracy, weighted_knn_predict
