import numpy as np
import pytest
import torch
import torchvision
from mmpretrain.models import ResNet, ResNetV1c

from cgh_mm.utils.checkpoint_conversion import (
    OUTPUT_FORMATS,
    check_keys,
    check_output_format,
    detectron2_checkpoint,
    detectron2_name,
    extract_backbone,
    resnet_depth_of,
    resnet_state_names,
    to_detectron2,
    to_torchvision,
    unwrap_state_dict,
)
from tests.cgh_checkpoints import build_cgh


@pytest.fixture(scope='module')
def cgh18_state():
    return build_cgh(18).state_dict()


def test_extract_backbone_student_and_teacher(cgh18_state):
    student = extract_backbone(cgh18_state)
    teacher = extract_backbone(cgh18_state, teacher=True)
    expected = {k[len('backbone.'):] for k in cgh18_state if k.startswith('backbone.')}
    assert set(student) == expected == set(teacher)
    assert torch.equal(student['layer4.1.conv2.weight'],
                       cgh18_state['backbone.layer4.1.conv2.weight'])
    assert torch.equal(teacher['layer4.1.conv2.weight'],
                       cgh18_state['teacher.module.backbone.layer4.1.conv2.weight'])
    assert not torch.equal(student['conv1.weight'], teacher['conv1.weight'])


def test_extract_backbone_names_what_is_missing():
    with pytest.raises(ValueError, match=r"'backbone\.'.*\['fc', 'head'\]"):
        extract_backbone({'head.weight': torch.zeros(1), 'fc.bias': torch.zeros(1)})
    with pytest.raises(ValueError, match='teacher.module.backbone'):
        extract_backbone({'backbone.conv1.weight': torch.zeros(1)}, teacher=True)


def test_unwrap_state_dict():
    sd = {'a': torch.zeros(1)}
    assert unwrap_state_dict({'state_dict': sd, 'meta': {}}) is sd
    assert unwrap_state_dict(sd) is sd
    with pytest.raises(ValueError, match='expected a checkpoint dict, got Tensor'):
        unwrap_state_dict(torch.zeros(2))


@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_state_names_are_torchvisions(depth):
    reference = getattr(torchvision.models, f'resnet{depth}')().state_dict()
    assert resnet_state_names(depth) == [k for k in reference if not k.startswith('fc.')]


@pytest.mark.parametrize('depth', [18, 34, 50, 101])
def test_mmpretrain_resnet_names_match_and_depth_is_inferred(depth):
    if depth == 101:  # names only; avoid building the 101-layer net
        names = resnet_state_names(101)
        assert resnet_depth_of(dict.fromkeys(names)) == 101
        return
    backbone = ResNet(depth=depth).state_dict()
    assert resnet_depth_of(backbone) == depth
    assert list(to_torchvision(backbone)) == resnet_state_names(depth)


def test_to_torchvision_rejects_deep_stem_with_one_message():
    backbone = ResNetV1c(depth=18).state_dict()
    with pytest.raises(ValueError) as err:
        to_torchvision(backbone)
    message = str(err.value)
    assert 'missing key(s)' in message and "'conv1.weight'" in message
    assert 'unexpected key(s)' in message and "'stem.0.conv.weight'" in message


def test_check_keys_reports_missing_and_unexpected_together():
    with pytest.raises(ValueError, match=r"1 missing key\(s\) \['b'\] and 1 unexpected key\(s\) "
                                       r"\['c'\]"):
        check_keys(['a', 'c'], ['a', 'b'], 'test')
    check_keys(['a', 'b'], ['b', 'a'], 'test')  # same set: no error


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


def test_to_detectron2_values_and_layout(cgh18_state):
    backbone = extract_backbone(cgh18_state)
    converted = to_detectron2(backbone)
    assert not any(k.endswith('num_batches_tracked') for k in converted)
    assert len(converted) == sum(not k.endswith('num_batches_tracked') for k in backbone)
    assert all(isinstance(v, np.ndarray) for v in converted.values())
    np.testing.assert_array_equal(converted['res5.1.conv2.norm.running_mean'],
                                  backbone['layer4.1.bn2.running_mean'].numpy())
    ckpt = detectron2_checkpoint(backbone)
    assert ckpt['matching_heuristics'] is True and ckpt['__author__']
    assert set(ckpt['model']) == set(converted)


def test_check_output_format_lists_valid_ones():
    for fmt in OUTPUT_FORMATS:
        check_output_format(fmt)
    with pytest.raises(ValueError, match="'caffe2'.*openmmlab, torchvision, detectron2"):
        check_output_format('caffe2')
