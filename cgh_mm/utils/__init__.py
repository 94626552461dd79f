from .safe_loading import allow_mmengine_checkpoint_globals

__all__ = ['allow_mmengine_checkpoint_globals']
from .launch import prepare_cpu_distributed

__all__ += ['prepare_cpu_distributed']
from .checkpoint import backbone_state_dict, load_backbone_weights, read_state_dict

__all__ += ['backbone_state_dict', 'load_backbone_weights', 'read_state_dict']
