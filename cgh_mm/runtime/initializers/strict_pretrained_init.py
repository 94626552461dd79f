import sys
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from ..backbone_weights import load_state_dict_strictly, read_state_dict, strip_prefix


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit(PretrainedInit):
    """Pretrained weights that do not fit the model are an error, not random weights.

    mmengine's ``Pretrained`` (``checkpoint``, ``prefix``, ``map_location``) that reads
    with ``weights_only=True`` and raises one ``ValueError`` listing the missing,
    unexpected and mis-shaped keys where ``Pretrained`` would warn and leave random
    weights. In mmengine's root registry: mmpretrain, mmdet and mmseg configs can use it.

    Args:
        ignore_missing: prefixes of module keys the checkpoint may lack (a new layer).
        ignore_unexpected: prefixes of checkpoint keys that another module loads.
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None,
                 ignore_missing: Sequence[str] = (), ignore_unexpected: Sequence[str] = (),
                 **kwargs) -> None:
        super().__init__(checkpoint, prefix=prefix, **kwargs)
        self.ignore_missing, self.ignore_unexpected = ignore_missing, ignore_unexpected

    def __call__(self, module: nn.Module) -> None:
        name = type(module).__name__
        # mmpretrain's ResNet (unlike mmdet's and mmseg's, which only zero-init without
        # an init_cfg) zeroes the last BN of each block after any init_cfg but 'Pretrained'.
        # Looked up, not imported: mmdet and mmseg runs need not have mmpretrain.
        backbones = sys.modules.get('mmpretrain.models.backbones')
        if (backbones is not None and isinstance(module, backbones.ResNet)
                and module.zero_init_residual):
            raise ValueError(f'{name} has zero_init_residual=True, which would overwrite the '
                             'loaded weights after StrictPretrained runs. Set '
                             '`zero_init_residual=False` in the backbone config.')
        try:  # check_checkpoint_file finds a missing file; this names the config key
            state = read_state_dict(self.checkpoint, self.map_location)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'init_cfg.checkpoint of {name} is {self.checkpoint!r}, which does not exist. '
                'Point it at a CGH checkpoint or a backbone file of tools/model_converters/'
                'cgh2backbone.py, e.g. --cfg-options model.backbone.init_cfg.checkpoint=PATH.'
            ) from None
        if self.prefix:
            state = strip_prefix(state, self.prefix.rstrip('.') + '.', self.checkpoint)
        loaded = load_state_dict_strictly(
            module, state, f'init_cfg checkpoint {self.checkpoint!r} (prefix={self.prefix!r})',
            'Point `init_cfg.checkpoint` at a checkpoint of this architecture, fix `prefix` '
            "('backbone.' for a CGH checkpoint, none for a backbone file), or list what may "
            'differ in `ignore_missing` / `ignore_unexpected`.',
            self.ignore_missing, self.ignore_unexpected)
        print_log(f'loaded {loaded} tensors into {name} from path: {self.checkpoint}',
                  logger='current')
        # mmengine's BaseModule.init_weights gives a module this private record of how
        # each parameter was initialised; update_init_info needs it, and no public
        # attribute says whether a module keeps it.
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'{type(self).__name__}: load from '
                             f'{self.checkpoint}')
