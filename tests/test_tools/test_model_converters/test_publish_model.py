"""publish_model.py on a checkpoint laid out as mmengine writes it."""
import hashlib
import os
import re

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from tests.helpers import TOOLS, load_tool, raises_stating

publish_model = load_tool(os.path.join(TOOLS, 'model_converters', 'publish_model.py'))
main, publish, strip_checkpoint = (publish_model.main, publish_model.publish,
                                   publish_model.strip_checkpoint)


@pytest.fixture
def training_checkpoint(tmp_path, tiny_cgh_cfg):
    """A checkpoint with optimizer, scheduler and message-hub state, as training saves it."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(tiny_cgh_cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    hub = MessageHub.get_instance('publish_model_test')
    hub.update_scalar('train/loss', 4.5)
    checkpoint = dict(
        meta=dict(epoch=2, iter=8, cfg="model = dict(type='CGH')", seed=0,
                  experiment_name='cgh_20261127_101010', time='20261127_101112',
                  mmengine_version='0.10.7', dataset_meta=dict(classes=('a', 'b'))),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        optimizer=optimizer.state_dict(),
        param_schedulers=[dict(last_epoch=8)])
    work_dir = tmp_path / 'cgh_resnet18_1xb16-2e_synthetic'
    work_dir.mkdir()
    path = work_dir / 'epoch_2.pth'
    torch.save(checkpoint, path)
    return checkpoint, str(path)


def test_publish_strips_training_state_and_names_the_file(training_checkpoint, tmp_path):
    checkpoint, path = training_checkpoint
    out_dir = tmp_path / 'release'
    out_path = publish(path, str(out_dir), date='20261127')

    name = os.path.basename(out_path)
    match = re.fullmatch(r'cgh_resnet18_1xb16-2e_synthetic_20261127-([0-9a-f]{8})\.pth', name)
    assert match, name
    with open(out_path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(1)
    # only the release file: the temporary file was renamed, not left behind
    assert os.listdir(out_dir) == [name]

    # plain weights_only loading, without mmengine's classes on the allow-list
    published = torch.load(out_path, map_location='cpu', weights_only=True)
    assert set(published) == {'state_dict', 'meta'}
    assert set(published['meta']) == {'cfg', 'epoch', 'iter', 'seed', 'time',
                                      'mmengine_version', 'dataset_meta'}
    assert published['state_dict'].keys() == checkpoint['state_dict'].keys()
    for key, value in checkpoint['state_dict'].items():
        assert torch.equal(published['state_dict'][key], value), key
    assert os.path.getsize(out_path) < os.path.getsize(path)


def test_cli_takes_the_stem_and_prints_the_path(training_checkpoint, tmp_path, capsys):
    _, path = training_checkpoint
    main([path, str(tmp_path / 'out'), '--stem', 'cgh_custom', '--date', '20250102'])
    printed = capsys.readouterr().out
    files = os.listdir(tmp_path / 'out')
    assert len(files) == 1 and files[0].startswith('cgh_custom_20250102-')
    assert files[0] in printed


def test_same_weights_give_the_same_name(training_checkpoint, tmp_path):
    _, path = training_checkpoint
    first = publish(path, str(tmp_path / 'a'), date='20261127')
    second = publish(path, str(tmp_path / 'b'), date='20261127')
    assert os.path.basename(first) == os.path.basename(second)


def test_bad_inputs_are_named(training_checkpoint, tmp_path):
    _, path = training_checkpoint
    with raises_stating(ValueError, '--date', "'2026-11-27'", 'YYYYMMDD'):
        publish(path, str(tmp_path / 'out'), date='2026-11-27')
    with raises_stating(FileNotFoundError, tmp_path / 'missing.pth'):
        publish(str(tmp_path / 'missing.pth'), str(tmp_path / 'out'))
    # the key it needs, the keys it found, and a checkpoint that has it
    with raises_stating(KeyError, 'state_dict', 'model', 'epoch_200.pth'):
        strip_checkpoint({'model': {}})
