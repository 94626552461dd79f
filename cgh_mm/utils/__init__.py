from .safe_loading import allow_mmengine_checkpoint_globals

__all__ = ['allow_mmengine_checkpoint_globals']
from .launch import prepare_cpu_distributed  # noqa: E402
from .checkpoint import (check_checkpoint_paths, describe_state_dict_mismatch,  # noqa: E402
                         find_last_complete_checkpoint, is_complete_checkpoint,
                         load_checkpoint_safely, write_file_atomically)
from .strict_pretrained_init import StrictPretrainedInit  # noqa: E402

__all__ += [
    'prepare_cpu_distributed', 'check_checkpoint_paths', 'describe_state_dict_mismatch',
    'find_last_complete_checkpoint', 'is_complete_checkpoint', 'load_checkpoint_safely',
    'write_file_atomically', 'StrictPretrainedInit'
]
