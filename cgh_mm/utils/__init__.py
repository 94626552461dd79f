from .backbone_weights import backbone_state_dict, load_backbone_weights, read_state_dict
from .checkpoint import (
    check_checkpoint_paths,
    describe_state_dict_mismatch,
    find_last_complete_checkpoint,
    is_complete_checkpoint,
    load_checkpoint_safely,
    write_file_atomically,
)
from .launch import apply_launch_args, find_sync_bn, parse_launch_args, prepare_cpu_distributed
from .safe_loading import allow_mmengine_checkpoint_globals
from .strict_pretrained_init import StrictPretrainedInit

__all__ = [
    'allow_mmengine_checkpoint_globals', 'apply_launch_args', 'backbone_state_dict',
    'check_checkpoint_paths',
    'describe_state_dict_mismatch', 'find_last_complete_checkpoint', 'find_sync_bn',
    'is_complete_checkpoint', 'load_backbone_weights', 'load_checkpoint_safely',
    'parse_launch_args', 'prepare_cpu_distributed', 'read_state_dict', 'StrictPretrainedInit',
    'write_file_atomically'
]
