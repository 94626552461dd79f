import pickle
import subprocess
import sys

import pytest
import torch
from mmpretrain.models import ResNet

from cgh_mm.runtime import load_backbone_weights, read_state_dict, strip_prefix
from cgh_mm.runtime.backbone_weights import (
    BACKBONE_PREFIXES,
    load_state_dict_strictly,
    state_dict_of,
)
from tests.helpers import raises_stating, save_tiny_cgh_checkpoint


def test_student_and_teacher_backbones_are_selected(tmp_path):
    path = tmp_path / 'cgh.pth'
    state = save_tiny_cgh_checkpoint(path)
    loaded = read_state_dict(str(path))
    student = strip_prefix(loaded, BACKBONE_PREFIXES['student'], str(path))
    teacher = strip_prefix(loaded, BACKBONE_PREFIXES['teacher'], str(path))
    assert set(student) == set(teacher) == set(ResNet(depth=18).state_dict())
    assert torch.equal(student['conv1.weight'], state['backbone.conv1.weight'])
    assert torch.equal(teacher['conv1.weight'], state['teacher.module.backbone.conv1.weight'])
    assert not torch.equal(student['conv1.weight'], teacher['conv1.weight'])

    backbone = ResNet(depth=18, out_indices=(3, ))
    load_backbone_weights(backbone, str(path), 'teacher')
    for key, value in teacher.items():
        assert torch.equal(backbone.state_dict()[key], value), key


def test_plain_backbone_checkpoint_loads_as_student_only(tmp_path):
    source = ResNet(depth=18)
    path = tmp_path / 'plain.pth'
    torch.save(source.state_dict(), str(path))
    target = ResNet(depth=18)
    load_backbone_weights(target, str(path), 'student')
    assert torch.equal(target.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    with raises_stating(ValueError, "'teacher.module.backbone.'", "['bn1', 'conv1', 'layer1'"):
        load_backbone_weights(target, str(path), 'teacher')


def test_missing_unexpected_and_misshaped_keys_reported_together(tmp_path):
    state = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()}
    del state['backbone.conv1.weight']
    state['backbone.extra.weight'] = torch.zeros(1)
    state['backbone.fc.weight'] = torch.zeros(1)
    state['backbone.bn1.weight'] = torch.ones(3)
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state), str(path))
    # every misfit at once: the counts, the keys, the two shapes
    with raises_stating(ValueError, str(path), '1 missing keys (conv1.weight)',
                        '2 unexpected keys (extra.weight, fc.weight)', 'bn1.weight (3,) vs (64,)'):
        load_backbone_weights(ResNet(depth=18), str(path))


def test_ignored_prefixes_let_two_modules_share_a_file():
    full = ResNet(depth=18).state_dict()
    three_stages = ResNet(depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                          out_indices=(2, ))
    layer4 = sum(k.startswith('layer4.') for k in full)
    with raises_stating(ValueError, f'{layer4} unexpected keys', 'layer4.0.'):
        load_state_dict_strictly(three_stages, full, 'f', 'hint')
    assert load_state_dict_strictly(three_stages, full, 'f', 'hint',
                                    ignore_unexpected=['layer4.']) == len(
                                        three_stages.state_dict())
    # only keys under the given prefixes are forgiven
    partial = {k: v for k, v in full.items() if not k.startswith(('layer4.', 'layer3.0.'))}
    layer3_0 = sum(k.startswith('layer3.0.') for k in full)
    with raises_stating(ValueError, f'{layer3_0} missing keys', 'layer3.0.'):
        load_state_dict_strictly(three_stages, partial, 'f', 'hint', ['layer4.'], ['layer4.'])
    load_state_dict_strictly(three_stages, partial, 'f', 'hint', ['layer3.0.'], ['layer4.'])


def test_state_dict_layouts(tmp_path):
    weights = {'conv1.weight': torch.ones(1)}
    assert state_dict_of(dict(state_dict=weights, meta={}), 'f') is weights
    assert state_dict_of(dict(model=weights), 'f') is weights  # detectron2 and others
    assert state_dict_of(weights, 'f') is weights
    # the file, what it holds, and where a CGH checkpoint keeps the backbone
    with raises_stating(ValueError, "'t.pth'", 'Tensor', 'dict', "'backbone.'"):
        state_dict_of(torch.zeros(2), 't.pth')


def test_code_running_pickle_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}, hook=print), str(path))
    # the file, the global refused (builtins.print), and the fix: re-save as tensors
    with raises_stating(pickle.UnpicklingError, str(path), 'print', 'torch.save'):
        read_state_dict(str(path))


@pytest.mark.slow
def test_training_checkpoint_loads_in_a_fresh_process(tmp_path):
    """mmengine registers HistoryBuffer's statistics lazily: a process that has made no
    HistoryBuffer must still read a checkpoint whose message hub pickles them."""
    from mmengine.logging import HistoryBuffer

    path = tmp_path / 'train.pth'
    buffer = HistoryBuffer()
    buffer.update(1.0)
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.ones(2)},
                    message_hub=dict(log_scalars={'loss': buffer})), str(path))
    code = ('from cgh_mm.runtime import read_state_dict; '
            f'print(sorted(read_state_dict({str(path)!r})))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['backbone.conv1.weight']" in result.stdout
