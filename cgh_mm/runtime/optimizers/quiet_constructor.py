import logging

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class QuietOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """A training log a researcher can scan: one line for the optimizer's parameters.

    mmengine's default constructor, with the same parameter groups. mmengine logs one
    line per parameter that a ``paramwise_cfg`` rule touches and a warning per parameter
    that does not require gradients (every tensor of an EMA teacher or a frozen
    backbone): hundreds of lines at the start of a CGH run. Here whole modules without a
    trainable parameter are left out silently and one summary line replaces the
    per-parameter lines.
    """

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        if prefix:  # a child: mmengine's rules, unless nothing in it is trained
            if any(p.requires_grad for p in module.parameters()):
                super().add_params(params, module, prefix, is_dcn_module)
            return
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(max(level, logging.WARNING))
        try:
            super().add_params(params, module, prefix, is_dcn_module)
        finally:
            logger.setLevel(level)
        no_decay = sum(1 for group in params if group.get('weight_decay', None) == 0)
        frozen = sum(1 for p in module.parameters() if not p.requires_grad)
        print_log(f'optimizer: {len(params)} trainable parameter tensors, {no_decay} of them '
                  f'without weight decay; {frozen} tensors that need no gradient (EMA teacher, '
                  'frozen stages) are not optimised', logger='current')
