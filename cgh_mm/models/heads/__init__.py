from .cross_context_head import CrossContextHead

__all__ = ['CrossContextHead']
