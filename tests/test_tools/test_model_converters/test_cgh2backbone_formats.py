"""The torchvision and detectron2 formats of tools/model_converters/cgh2backbone.py."""
import os.path as osp

import numpy as np
import pytest
import torchvision
from mmpretrain.models import ResNet, ResNetV1c

from tests.helpers import TOOLS, load_tool, raises_stating

cgh2backbone = load_tool(osp.join(TOOLS, 'model_converters', 'cgh2backbone.py'))
detectron2_checkpoint, detectron2_name, to_torchvision, torchvision_resnet_state = (
    cgh2backbone.detectron2_checkpoint, cgh2backbone.detectron2_name,
    cgh2backbone.to_torchvision, cgh2backbone.torchvision_resnet_state)


@pytest.fixture(scope='module')
def r18_backbone():
    return ResNet(depth=18).state_dict()


@pytest.mark.parametrize('depth', [18, 50])
def test_reference_names_and_shapes_are_torchvisions(depth):
    reference = getattr(torchvision.models, f'resnet{depth}')().state_dict()
    names = torchvision_resnet_state(depth)
    assert list(names) == [k for k in reference if not k.startswith('fc.')]
    assert all(names[k].shape == reference[k].shape for k in names)


@pytest.mark.parametrize('depth', [18, 34, 50])
def test_mmpretrain_resnet_exports_unchanged(depth):
    backbone = ResNet(depth=depth).state_dict()
    exported = to_torchvision(backbone)
    assert list(exported) == list(backbone)
    assert all(exported[k] is backbone[k] for k in backbone)


def test_a_deep_stem_or_a_narrow_resnet_is_refused_with_one_message(r18_backbone):
    with raises_stating(ValueError, 'resnet18', '6 missing keys (bn1.bias', '18 unexpected keys',
                        'stem.0.bn.bias', 'plain-stem'):
        to_torchvision(ResNetV1c(depth=18).state_dict())
    narrow = ResNet(depth=18, stem_channels=16, base_channels=16).state_dict()
    with raises_stating(ValueError, 'bn1.bias (16,) vs (64,)'):
        to_torchvision(narrow)


@pytest.mark.parametrize('name,expected', [
    ('conv1.weight', 'stem.conv1.weight'),
    ('bn1.running_var', 'stem.conv1.norm.running_var'),
    ('layer1.0.bn3.bias', 'res2.0.conv3.norm.bias'),
    ('layer2.3.conv2.weight', 'res3.3.conv2.weight'),
    ('layer3.0.downsample.0.weight', 'res4.0.shortcut.weight'),
    ('layer4.0.downsample.1.running_mean', 'res5.0.shortcut.norm.running_mean'),
])
def test_detectron2_name(name, expected):
    assert detectron2_name(name) == expected


def test_detectron2_values_and_layout(r18_backbone):
    ckpt = detectron2_checkpoint(r18_backbone)
    assert ckpt['matching_heuristics'] is True and ckpt['__author__']
    converted = ckpt['model']
    assert not any(k.endswith('num_batches_tracked') for k in converted)
    assert len(converted) == sum(not k.endswith('num_batches_tracked') for k in r18_backbone)
    assert all(isinstance(v, np.ndarray) for v in converted.values())
    np.testing.assert_array_equal(converted['res5.1.conv2.norm.running_mean'],
                                  r18_backbone['layer4.1.bn2.running_mean'].numpy())
    # the closest torchvision ResNet, the deep stem's keys it lacks, the type that fits
    with raises_stating(ValueError, 'resnet18', 'stem.0.conv.weight', "type='ResNet'"):
        detectron2_checkpoint(ResNetV1c(depth=18).state_dict())
