import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

import cgh_mm.models  # noqa: F401  (the head's defaults are looked up in the registry)
from cgh_mm.runtime.resume_config import config_from_text, resume_differences, resume_mismatch
from tests.helpers import REPO, SYNTHETIC_CONFIG


def synthetic(**changes) -> dict:
    cfg = Config.fromfile(SYNTHETIC_CONFIG, import_custom_modules=False)
    cfg.merge_from_dict(changes)
    return cfg


def test_stored_config_text_is_read_back_without_running_it(tmp_path):
    cfg = synthetic()
    assert config_from_text(cfg.pretty_text) == cfg.to_dict()
    marker = tmp_path / 'ran'
    text = f'model = dict(type=open({str(marker)!r}, "w").name)\nimport os\nx = [1, -2.5, (3,)]'
    assert config_from_text(text) == dict(
        model=dict(type=f"open({str(marker)!r}, 'w').name"), x=[1, -2.5, (3, )])
    assert not marker.exists()  # compared as text, never run


def test_resume_differences_refuse_what_changes_training():
    saved = config_from_text(synthetic().pretty_text)
    current = synthetic(**{'model.head.teaching': 'same', 'train_cfg.max_epochs': 5,
                           'train_dataloader.dataset.num_images': 32,
                           'work_dir': '/elsewhere', 'log_processor.window_size': 1,
                           'default_hooks.checkpoint.interval': 3,
                           'train_dataloader.num_workers': 2,
                           'optim_wrapper.optimizer.momentum': 0.8,
                           'randomness.seed': 5}).to_dict()
    refused, restored = resume_differences(saved, current)
    assert refused == ["model.head.teaching: 'cross' (default) -> 'same'",
                       'train_dataloader.dataset.num_images: 64 -> 32']
    assert restored == ['optim_wrapper.optimizer.momentum: 0.9 -> 0.8']
    # allowed by the run: the same data moved, say
    assert resume_differences(saved, current, ['train_dataloader.dataset'])[0] == [
        "model.head.teaching: 'cross' (default) -> 'same'"]
    # the same settings: a list given as a tuple, as --cfg-options may; a default made explicit
    current = synthetic(**{'model.hypercolumn_neck.in_channels': [256, 512],
                           'model.head.teaching': 'cross'}).to_dict()
    assert resume_differences(saved, current) == ([], [])


def test_resume_mismatch_takes_the_allowed_keys_as_a_list_or_one_string():
    saved = synthetic()
    current = synthetic(**{'model.head.teaching': 'same', 'randomness.seed': 5}).to_dict()
    meta = dict(cfg=saved.pretty_text, seed=0)
    assert resume_mismatch(meta, current)[0] == [
        'randomness.seed: 0 -> 5', "model.head.teaching: 'cross' (default) -> 'same'"]
    for allowed in ('model.head', ['model.head']):  # e.g. resume_may_change='model.head'
        assert resume_mismatch(meta, current, allowed)[0] == ['randomness.seed: 0 -> 5']
    assert resume_mismatch(meta, current, ['model.head', 'randomness.seed']) == ([], [])


def head_config(scope: str, head: str, **arguments) -> dict:
    return dict(default_scope=scope, model=dict(type='EncoderDecoder',
                                                 decode_head=dict(type=head, **arguments)))


@pytest.mark.parametrize('scope, head, argument, default', [
    ('mmdet', 'RetinaHead', 'stacked_convs', 4), ('mmseg', 'FCNHead', 'num_convs', 2)])
def test_defaults_of_a_downstream_type_are_found_in_the_runs_scope(scope, head, argument,
                                                                   default):
    saved = head_config(scope, head, in_channels=8)
    # the default made explicit on resume: the same setting
    assert resume_differences(saved, head_config(scope, head, in_channels=8,
                                                 **{argument: default})) == ([], [])
    refused, _ = resume_differences(saved, head_config(scope, head, in_channels=8,
                                                       **{argument: default + 1}))
    assert refused == [f'model.decode_head.{argument}: {default} (default) -> {default + 1}']


@pytest.mark.slow
def test_resume_settings_are_compared_with_mmpretrain_not_importable():
    # a downstream run (mmdet, mmseg) needs cgh_mm.runtime only, not mmpretrain
    code = textwrap.dedent(f'''
        import sys
        sys.modules['mmpretrain'] = None  # `import mmpretrain` raises ImportError
        from cgh_mm.runtime.resume_config import constructor_default, resume_differences
        saved = {head_config('mmseg', 'FCNHead', in_channels=8)!r}
        current = {head_config('mmseg', 'FCNHead', in_channels=8, num_convs=3)!r}
        print(constructor_default('FCNHead', 'num_convs', 'mmseg'))
        print(resume_differences(saved, current)[0])
        ''')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2:] == [
        '2', "['model.decode_head.num_convs: 2 (default) -> 3']"]
