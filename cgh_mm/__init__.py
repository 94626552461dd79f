"""cgh-mm: CGH self-supervised learning for the OpenMMLab 2.x stack.

Importing the package registers every module into mmpretrain's registries, so a
config only needs ``custom_imports = dict(imports=['cgh_mm'], allow_failed_imports=False)``.
"""
from .utils import allow_mmengine_checkpoint_globals

allow_mmengine_checkpoint_globals()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402,F401
