from .quiet_constructor import QuietOptimWrapperConstructor

__all__ = ['QuietOptimWrapperConstructor']
