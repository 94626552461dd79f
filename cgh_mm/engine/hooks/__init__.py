from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_match_hook import CheckpointMatchHook, CheckpointMismatchError
from .loss_warmup_hook import CGHLossWarmupHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .random_state_hook import RandomStateHook, capture_random_state, restore_random_state

__all__ = [
    'AtomicCheckpointHook', 'CheckpointMatchHook', 'CheckpointMismatchError',
    'CGHLossWarmupHook', 'NonFiniteLossError', 'NonFiniteLossHook', 'RandomStateHook',
    'capture_random_state', 'restore_random_state'
]
