"""cgh-mm: CGH self-supervised learning for the OpenMMLab 2.x stack.

Importing the package registers every module into mmpretrain's registries, so a
config only needs ``custom_imports = dict(imports=['cgh_mm'], allow_failed_imports=False)``.
It changes nothing else of the process (torch's allow-list, matplotlib's backend).
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__  # noqa: F401
