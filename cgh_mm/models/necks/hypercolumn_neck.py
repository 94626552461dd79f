from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.necks import MoCoV2Neck
from mmpretrain.registry import MODELS


@MODELS.register_module()
class HypercolumnNeck(BaseModule):
    """Gives CGH its hypercolumn embedding: several backbone stages fused and projected.

    The selected stage maps are resized bilinearly to the spatial size of the
    last selected one, stacked on channels, then go through
    ``1x1 conv (no bias) -> norm -> ReLU -> global average pool -> MLP``.

    Args:
        in_channels: channels of each selected map, in ``stage_indices`` order,
            e.g. ``(1024, 2048)`` for ResNet-50 layer3 and layer4.
        stage_indices: positions, in the tuple the backbone returns, of the maps
            that form the hypercolumn. With ``ResNet(out_indices=(2, 3))`` the
            tuple holds layer3 and layer4, so ``(0, 1)`` selects both.
        conv_channels: output channels of the 1x1 fusion conv.
        hid_channels: hidden width of the MLP.
        out_channels: embedding size.
        norm_cfg: norm layer after the fusion conv (``BN`` or ``SyncBN``).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 stage_indices: Sequence[int],
                 conv_channels: int = 2048,
                 hid_channels: int = 4096,
                 out_channels: int = 512,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        self.in_channels = tuple(in_channels)
        self.stage_indices = tuple(stage_indices)
        if not self.stage_indices or len(self.in_channels) != len(self.stage_indices):
            raise ValueError(
                f'HypercolumnNeck: `in_channels` {self.in_channels} and `stage_indices` '
                f'{self.stage_indices} must be non-empty and of the same length: give one '
                'channel count per selected stage.')
        self.fuse = ConvModule(sum(self.in_channels), conv_channels, 1, bias=False,
                               norm_cfg=norm_cfg or dict(type='BN'))
        # Pool + fc-relu-fc is exactly MoCo v2's neck.
        self.projector = MoCoV2Neck(conv_channels, hid_channels, out_channels)

    def select_stages(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """The configured maps, checked against the backbone's output."""
        selected = []
        for stage, channels in zip(self.stage_indices, self.in_channels):
            if not -len(feats) <= stage < len(feats):
                raise ValueError(
                    f'HypercolumnNeck: stage index {stage} is out of range: the backbone '
                    f'returned {len(feats)} maps (valid indices 0..{len(feats) - 1}). Add '
                    "the stage to the backbone's `out_indices` or fix `stage_indices`.")
            if feats[stage].dim() != 4 or feats[stage].shape[1] != channels:
                raise ValueError(
                    f'HypercolumnNeck: stage {stage} has shape {tuple(feats[stage].shape)} '
                    f'but `in_channels` expects {channels} channels (N, {channels}, H, W). '
                    'Set `in_channels` to the channels of the selected stages.')
            selected.append(feats[stage])
        return selected

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor]:
        """Args: feats: the tuple of stage maps of a backbone.

        Returns: a 1-tuple with the ``(N, out_channels)`` hypercolumn embedding.
        """
        maps = self.select_stages(feats)
        size = maps[-1].shape[-2:]
        maps = [F.interpolate(m, size=size, mode='bilinear', align_corners=False)
                if m.shape[-2:] != size else m for m in maps]
        return self.projector((self.fuse(torch.cat(maps, dim=1)), ))
