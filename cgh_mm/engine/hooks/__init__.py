from .atomic_checkpoint_hook import AtomicCheckpointHook, AtomicLocalBackend
from .cgh_health_hook import CGHHealthHook
from .checkpoint_match_hook import CheckpointMatchHook, CheckpointMismatchError
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .random_state_hook import RandomStateHook, capture_random_state, restore_random_state

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'CGHHealthHook', 'CheckpointMatchHook',
    'CheckpointMismatchError', 'NonFiniteLossError', 'NonFiniteLossHook', 'RandomStateHook',
    'capture_random_state', 'restore_random_state'
]
