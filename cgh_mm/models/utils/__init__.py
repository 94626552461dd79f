from .relations import (
    entropy_fraction,
    mean_pairwise_cosine,
    relation_logits,
    relation_target,
)
