from .cgh import CGH, check_queue_fits_batch

__all__ = ['CGH', 'check_queue_fits_batch']
