from .cgh import CGH, CGHDistributedDataParallel
