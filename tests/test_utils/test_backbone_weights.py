import pytest
import torch
from mmpretrain.models import ResNet

from cgh_mm.utils import backbone_state_dict, load_backbone_weights, read_state_dict
from tests.helpers import save_tiny_cgh_checkpoint


def test_student_and_teacher_backbones_are_selected(tiny_cgh_cfg, tmp_path):
    path = tmp_path / 'cgh.pth'
    state = save_tiny_cgh_checkpoint(tiny_cgh_cfg, path)
    loaded = read_state_dict(str(path))
    student = backbone_state_dict(loaded, 'student')
    teacher = backbone_state_dict(loaded, 'teacher')
    assert set(student) == set(teacher)
    assert torch.equal(student['conv1.weight'], state['backbone.conv1.weight'])
    assert torch.equal(teacher['conv1.weight'], state['teacher.module.backbone.conv1.weight'])
    assert not torch.equal(student['conv1.weight'], teacher['conv1.weight'])

    backbone = ResNet(depth=18, out_indices=(3, ))
    load_backbone_weights(backbone, str(path), 'teacher')
    assert torch.equal(backbone.conv1.weight, teacher['conv1.weight'])


def test_plain_backbone_checkpoint_loads_as_student_only(tmp_path):
    source = ResNet(depth=18)
    path = tmp_path / 'plain.pth'
    torch.save(source.state_dict(), str(path))
    target = ResNet(depth=18)
    load_backbone_weights(target, str(path), 'student')
    assert torch.equal(target.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    with pytest.raises(KeyError, match='teacher'):
        load_backbone_weights(target, str(path), 'teacher')


def test_missing_and_unexpected_keys_reported_together(tmp_path):
    state = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()}
    del state['backbone.conv1.weight']
    state['backbone.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state), str(path))
    with pytest.raises(KeyError) as err:
        load_backbone_weights(ResNet(depth=18), str(path))
    assert 'conv1.weight' in str(err.value) and 'extra.weight' in str(err.value)


def test_code_running_pickle_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}, hook=print), str(path))
    with pytest.raises(Exception, match='[Ww]eights only'):
        read_state_dict(str(path))


def test_training_checkpoint_loads_in_a_fresh_process(tmp_path):
    """mmengine registers HistoryBuffer's statistics lazily: a process that has made no
    HistoryBuffer must still read a checkpoint whose message hub pickles them."""
    import subprocess
    import sys

    from mmengine.logging import HistoryBuffer

    path = tmp_path / 'train.pth'
    buffer = HistoryBuffer()
    buffer.update(1.0)
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.ones(2)},
                    message_hub=dict(log_scalars={'loss': buffer})), str(path))
    code = ('from cgh_mm.utils import read_state_dict; '
            f'print(sorted(read_state_dict({str(path)!r})))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['backbone.conv1.weight']" in result.stdout
