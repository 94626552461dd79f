from .loss_warmup_hook import CGHLossWarmupHook

__all__ = ['CGHLossWarmupHook']
