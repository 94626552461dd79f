from .teacher_ema import ForeachEMA

__all__ = ['ForeachEMA']
