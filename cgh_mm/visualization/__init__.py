from .training_curves import (
    find_scalars_file,
    load_scalars,
    plot_health,
    plot_knn_accuracy,
    plot_loss_terms,
    scalar_series,
)
