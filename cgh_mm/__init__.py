"""cgh-mm: CGH self-supervised learning for the OpenMMLab 2.x stack.

``import cgh_mm`` registers nothing and imports no other library. As in mmpretrain, the
sub-packages register their modules when imported: a pretraining config imports them
(``configs/_base_/default_runtime.py``)::

    custom_imports = dict(imports=['cgh_mm.datasets', 'cgh_mm.engine', 'cgh_mm.evaluation',
                                   'cgh_mm.models', 'cgh_mm.runtime'],
                          allow_failed_imports=False)

and an mmdet or mmseg config only ``cgh_mm.runtime`` (``StrictPretrained``,
``CheckpointGlobalsHook``, in mmengine's root registries; no mmpretrain, no scipy).
"""
from .version import __version__  # noqa: F401
