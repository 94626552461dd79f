from typing import Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmengine.registry import WEIGHT_INITIALIZERS

from .checkpoint import describe_state_dict_mismatch, load_checkpoint_safely


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit(PretrainedInit):
    """``init_cfg=dict(type='Pretrained', ...)`` that fails instead of warning.

    mmengine's ``Pretrained`` loads with ``strict=False``: a checkpoint of another
    model leaves the module randomly initialised with only a log line. This one
    loads with ``weights_only=True`` (see :func:`load_checkpoint_safely`), keeps
    the keys under ``prefix`` and raises one error that lists the missing,
    unexpected and wrongly shaped keys. Registered in mmengine's root registry,
    so mmpretrain, mmdet and mmseg configs can all use it.

    Args:
        checkpoint: local path of the checkpoint.
        prefix: keep only the keys under this prefix (e.g. ``'backbone.'``) and
            strip it.
        map_location: as ``torch.load``.
        ignore_missing: names of module keys that may be absent from the
            checkpoint (e.g. a new head), matched as prefixes.
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None,
                 map_location: str = 'cpu', ignore_missing: tuple = ()) -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.ignore_missing = tuple(ignore_missing)

    def __call__(self, module: nn.Module) -> None:
        if getattr(module, 'zero_init_residual', False):
            # mmpretrain's ResNet skips its zero-init of the last BN of each block only
            # for init_cfg type 'Pretrained'; after this one it would zero loaded weights.
            raise ValueError(
                f'{type(module).__name__} has zero_init_residual=True, which would '
                'overwrite the loaded weights after StrictPretrained runs. Set '
                '`zero_init_residual=False` in the backbone config.')
        loaded = load_checkpoint_safely(self.checkpoint, map_location=self.map_location)
        state = loaded.get('state_dict', loaded)
        if self.prefix:
            prefix = self.prefix if self.prefix.endswith('.') else self.prefix + '.'
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        expected = {k: v for k, v in module.state_dict().items()
                    if k in state or not k.startswith(self.ignore_missing)}
        mismatch = describe_state_dict_mismatch(expected, state)
        if mismatch is not None:
            raise ValueError(
                f'init_cfg checkpoint {self.checkpoint!r} (prefix={self.prefix!r}) does '
                f'not fit {type(module).__name__}: {mismatch}. Point `init_cfg.checkpoint` '
                'at a checkpoint of this architecture, fix `prefix` (e.g. '
                '\'backbone.\' for a CGH checkpoint), or list keys the checkpoint may '
                'lack in `ignore_missing`.')
        module.load_state_dict(state, strict=False)
        print_log(f'loaded {len(state)} tensors into {type(module).__name__} from '
                  f'{self.checkpoint}', logger='current')
        if hasattr(module, '_params_init_info'):
            from mmengine.model.weight_init import update_init_info
            update_init_info(module, init_info=self._get_init_info())
