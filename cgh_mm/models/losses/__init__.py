from .relation_losses import (
                              cross_context_loss,
                              info_nce,
                              loss_warmup_alpha,
                              paired_relation_logits,
                              relation_logits,
                              soft_target_cross_entropy,
)

__all__ = [
    'cross_context_loss', 'info_nce', 'loss_warmup_alpha', 'paired_relation_logits',
    'relation_logits',
    'soft_target_cross_entropy'
]
