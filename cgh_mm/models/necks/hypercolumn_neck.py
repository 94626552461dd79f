from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.necks import MoCoV2Neck
from mmpretrain.registry import MODELS


@MODELS.register_module()
class HypercolumnNeck(BaseModule):
    """Hypercolumn projection of CGH.

    Selected stage maps are resized bilinearly to the spatial size of the last
    selected map, stacked on channels, then go through
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
        self.in_channels = tuple(int(c) for c in in_channels)
        self.stage_indices = tuple(int(i) for i in stage_indices)
        if not self.stage_indices:
            raise ValueError('HypercolumnNeck needs at least one stage in `stage_indices`.')
        if len(self.in_channels) != len(self.stage_indices):
            raise ValueError(
                f'HypercolumnNeck: `in_channels` {self.in_channels} has '
                f'{len(self.in_channels)} entries but `stage_indices` '
                f'{self.stage_indices} selects {len(self.stage_indices)} stages; '
                'give one channel count per selected stage.')
        norm_cfg = norm_cfg or dict(type='BN')
        self.fuse_conv = nn.Conv2d(sum(self.in_channels), conv_channels, 1, bias=False)
        self.fuse_norm_name, fuse_norm = build_norm_layer(norm_cfg, conv_channels)
        self.add_module(self.fuse_norm_name, fuse_norm)
        self.relu = nn.ReLU(inplace=True)
        # Pool + fc-relu-fc is exactly MoCo v2's neck: reuse it.
        self.projector = MoCoV2Neck(conv_channels, hid_channels, out_channels,
                                    with_avg_pool=True)

    @property
    def fuse_norm(self) -> nn.Module:
        return getattr(self, self.fuse_norm_name)

    def select_stages(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Pick the configured maps and check their channels."""
        selected = []
        for stage, channels in zip(self.stage_indices, self.in_channels):
            if not -len(feats) <= stage < len(feats):
                raise ValueError(
                    f'HypercolumnNeck: stage index {stage} is out of range: the '
                    f'backbone returned {len(feats)} maps (valid indices 0..'
                    f'{len(feats) - 1}). Add the stage to the backbone\'s '
                    '`out_indices` or fix `stage_indices`.')
            feat = feats[stage]
            if feat.dim() != 4 or feat.shape[1] != channels:
                raise ValueError(
                    f'HypercolumnNeck: stage {stage} has shape {tuple(feat.shape)} '
                    f'but `in_channels` expects {channels} channels (N, {channels}, '
                    'H, W). Set `in_channels` to the channels of the selected stages.')
            selected.append(feat)
        return selected

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor]:
        """Args: feats: the tuple of stage maps of a backbone.

        Returns: a 1-tuple with the ``(N, out_channels)`` hypercolumn embedding.
        """
        maps = self.select_stages(feats)
        size = maps[-1].shape[-2:]
        maps = [
            m if m.shape[-2:] == size else F.interpolate(
                m, size=size, mode='bilinear', align_corners=False) for m in maps
        ]
        x = self.relu(self.fuse_norm(self.fuse_conv(torch.cat(maps, dim=1))))
        return self.projector((x, ))
