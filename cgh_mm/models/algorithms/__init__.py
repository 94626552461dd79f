from .cgh import CGH, ContextEncoder, check_queue_fits_batch, encode_contexts

__all__ = ['CGH', 'ContextEncoder', 'check_queue_fits_batch', 'encode_contexts']
