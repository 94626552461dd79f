import os
import pickle

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from cgh_mm.utils import (
    check_checkpoint_paths,
    find_last_complete_checkpoint,
    load_checkpoint_safely,
    write_file_atomically,
)


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_code_running_pickle_is_refused_with_a_clear_message(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1)), extra=_RunsCode(marker)), path)
    with pytest.raises(pickle.UnpicklingError,
                       match=r"refused to load .*evil.pth.*could run arbitrary code.*trust"):
        load_checkpoint_safely(str(path))
    assert not marker.exists()


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_safely(str(tmp_path / 'nope.pth'))
    path = tmp_path / 'cut.pth'
    torch.save(dict(w=torch.ones(1000)), path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(RuntimeError, match='truncated'):
        load_checkpoint_safely(str(path))


def test_last_complete_checkpoint_skips_cut_files_and_lagging_pointer(tmp_path):
    assert find_last_complete_checkpoint(str(tmp_path)) is None
    for step in (1, 2, 3):
        torch.save(dict(step=step), tmp_path / f'iter_{step}.pth')
        os.utime(tmp_path / f'iter_{step}.pth', (step, step))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_last_complete_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_3.pth')
    (tmp_path / 'iter_3.pth').write_bytes(b'PK\x03\x04 cut short')
    assert find_last_complete_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / 'sub' / 'f.txt'
    write_file_atomically(str(path), b'one')
    write_file_atomically(str(path), b'two')
    assert path.read_bytes() == b'two' and os.listdir(path.parent) == ['f.txt']


def test_missing_checkpoint_in_a_config_names_the_key(tmp_path):
    cfg = Config(dict(model=dict(backbone=dict(
        type='ResNet', init_cfg=dict(type='Pretrained', checkpoint='work_dirs/none.pth')))))
    with pytest.raises(FileNotFoundError,
                       match=r"`model.backbone.init_cfg.checkpoint` points at .*none.pth"):
        check_checkpoint_paths(cfg)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'here.pth')
    torch.save({}, tmp_path / 'here.pth')
    check_checkpoint_paths(cfg)
    cfg.load_from = 'gone.pth'
    with pytest.raises(FileNotFoundError, match=r'`load_from` points at .*gone.pth'):
        check_checkpoint_paths(cfg)


def test_strict_pretrained_loads_a_fitting_backbone_and_refuses_another(tmp_path):
    source = MODELS.build(dict(type='ResNet', depth=18))
    path = tmp_path / 'cgh.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in source.state_dict().items()}),
               path)
    init_cfg = dict(type='StrictPretrained', checkpoint=str(path), prefix='backbone.')
    fitting = MODELS.build(dict(type='ResNet', depth=18, zero_init_residual=False,
                                init_cfg=init_cfg))
    fitting.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(fitting.state_dict()[key], value), key

    # mmpretrain's ResNet zero-inits after any init_cfg but 'Pretrained': refused
    zeroing = MODELS.build(dict(type='ResNet', depth=18, init_cfg=init_cfg))
    with pytest.raises(ValueError, match='zero_init_residual=False'):
        zeroing.init_weights()

    other = MODELS.build(dict(type='ResNet', depth=50, zero_init_residual=False,
                              init_cfg=init_cfg))
    with pytest.raises(ValueError, match=r"does not fit ResNet: \d+ missing keys \(.*\); "
                       r".*keys with another shape.*fix `prefix`"):
        other.init_weights()
