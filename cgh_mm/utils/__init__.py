from .safe_loading import allow_mmengine_checkpoint_globals

__all__ = ['allow_mmengine_checkpoint_globals']
from .launch import find_sync_bn, prepare_cpu_distributed

__all__ += ['find_sync_bn', 'prepare_cpu_distributed']
