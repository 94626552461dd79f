import pytest
import torch
from mmpretrain.registry import MODELS

from tests.helpers import raises_stating


def build_pair(backbone, stage_indices, in_channels, out_channels=16):
    backbone = MODELS.build(backbone)
    neck = MODELS.build(dict(type='HypercolumnNeck', in_channels=in_channels,
                             stage_indices=stage_indices, conv_channels=24,
                             hid_channels=32, out_channels=out_channels))
    return backbone, neck


@pytest.mark.parametrize('out_indices,stage_indices,in_channels', [
    ((3, ), (0, ), (512, )),
    ((2, 3), (0, 1), (256, 512)),
    ((0, 1, 2, 3), (0, 1, 2, 3), (64, 128, 256, 512)),
    ((0, 1, 2, 3), (1, 3), (128, 512)),
])
def test_resnet18_stages(out_indices, stage_indices, in_channels):
    backbone, neck = build_pair(
        dict(type='ResNet', depth=18, out_indices=out_indices), stage_indices, in_channels)
    feats = backbone(torch.randn(2, 3, 64, 64))
    out = neck(feats)
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (2, 16)
    assert torch.isfinite(out[0]).all()


def test_maps_are_resized_to_the_last_selected_stage():
    neck = MODELS.build(dict(type='HypercolumnNeck', in_channels=(4, 8), stage_indices=(0, 1),
                             conv_channels=6, hid_channels=8, out_channels=5))
    seen = {}
    neck.fuse.conv.register_forward_hook(lambda m, i, o: seen.update({'in': i[0].shape}))
    neck((torch.randn(2, 4, 16, 16), torch.randn(2, 8, 4, 4)))
    assert seen['in'] == (2, 12, 4, 4)


def test_bilinear_resize_without_align_corners():
    neck = MODELS.build(dict(type='HypercolumnNeck', in_channels=(1, 1), stage_indices=(0, 1),
                             conv_channels=2, hid_channels=4, out_channels=3))
    seen = {}
    neck.fuse.conv.register_forward_hook(lambda m, i, o: seen.update({'in': i[0]}))
    big = torch.arange(16.0).view(1, 1, 4, 4).repeat(2, 1, 1, 1)
    small = torch.zeros(2, 1, 2, 2)
    neck((big, small))
    expected = torch.nn.functional.interpolate(big, size=(2, 2), mode='bilinear',
                                               align_corners=False)
    assert torch.equal(seen['in'][:, :1], expected)
    assert not torch.equal(
        expected,
        torch.nn.functional.interpolate(big, size=(2, 2), mode='bilinear',
                                        align_corners=True))


def test_resnetv1d_family():
    backbone, neck = build_pair(
        dict(type='ResNetV1d', depth=18, out_indices=(1, 2, 3)), (0, 1, 2), (128, 256, 512))
    assert neck(backbone(torch.randn(2, 3, 64, 64)))[0].shape == (2, 16)


def test_convnext_family():
    backbone, neck = build_pair(
        dict(type='ConvNeXt', arch='atto', out_indices=(2, 3), gap_before_final_norm=False),
        (0, 1), (160, 320))
    assert neck(backbone(torch.randn(2, 3, 64, 64)))[0].shape == (2, 16)


def test_stage_index_out_of_range_names_the_stage():
    backbone, neck = build_pair(dict(type='ResNet', depth=18, out_indices=(2, 3)), (0, 2),
                                (256, 512))
    with raises_stating(ValueError, 'stage index 2', '2 maps', 'out_indices', 'stage_indices'):
        neck(backbone(torch.randn(2, 3, 64, 64)))


def test_channel_mismatch_names_stage_shape_and_expectation():
    backbone, neck = build_pair(dict(type='ResNet', depth=18, out_indices=(2, 3)), (0, 1),
                                (1024, 512))
    with raises_stating(ValueError, 'stage 0', '(2, 256, 4, 4)', '1024 channels', 'in_channels'):
        neck(backbone(torch.randn(2, 3, 64, 64)))


def test_config_length_mismatch():
    # both settings with their values: one channel count per stage index
    with raises_stating(ValueError, '`in_channels` (256,)', '`stage_indices` (0, 1)'):
        MODELS.build(dict(type='HypercolumnNeck', in_channels=(256, ), stage_indices=(0, 1)))
