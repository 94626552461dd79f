from .training_curves import plot_health, plot_knn_accuracy, plot_loss_terms
