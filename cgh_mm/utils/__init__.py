from .checkpoint import backbone_state_dict, load_backbone_weights, read_state_dict
from .launch import prepare_cpu_distributed
from .safe_loading import allow_mmengine_checkpoint_globals

__all__ = [
    'allow_mmengine_checkpoint_globals', 'prepare_cpu_distributed', 'backbone_state_dict',
    'load_backbone_weights', 'read_state_dict'
]
