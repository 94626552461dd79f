from .relation_losses import (
    cross_context_loss,
    entropy_fraction,
    info_nce,
    mean_pairwise_cosine,
    relation_logits,
    relation_target,
    soft_target_cross_entropy,
)
