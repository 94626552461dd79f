from .cgh import CGH, CGHDistributedDataParallel, check_queue_fits_batch
