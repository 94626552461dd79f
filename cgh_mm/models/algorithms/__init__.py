from .cgh import CGH, check_queue_fits_batch
