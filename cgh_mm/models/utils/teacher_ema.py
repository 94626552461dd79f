from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ForeachEMA(ExponentialMovingAverage):
    """mmengine's :class:`ExponentialMovingAverage` updated with foreach ops.

    Same semantics (``avg = (1 - momentum) * avg + momentum * src``, copy on the
    first step, buffers copied from the source), but one fused ``lerp`` over all
    parameters instead of one kernel launch per tensor.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.0002,
                 interval: int = 1,
                 device: Optional[torch.device] = None,
                 update_buffers: bool = False) -> None:
        super().__init__(model, momentum, interval, device, update_buffers)
        self._param_names = [k for k, p in self.avg_parameters.items()
                             if p.dtype.is_floating_point]

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        src = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        if self.steps == 0:
            names = list(self.avg_parameters)
        else:
            names = self._param_names
        avg = [self.avg_parameters[k].data for k in names]
        new = [src[k].data.to(a.device) for k, a in zip(names, avg)]
        if self.steps == 0:
            torch._foreach_copy_(avg, new)
        elif self.steps % self.interval == 0:
            torch._foreach_lerp_(avg, new, self.momentum)
        if not self.update_buffers:
            avg_buffers = [b.data for b in self.module.buffers()]
            src_buffers = [b.data.to(a.device) for a, b in zip(avg_buffers, model.buffers())]
            if avg_buffers:
                torch._foreach_copy_(avg_buffers, src_buffers)
        self.steps += 1
