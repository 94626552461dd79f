from mmengine.config import Config

import cgh_mm.models  # noqa: F401  (the head's defaults are looked up in the registry)
from cgh_mm.runtime.resume_config import config_from_text, resume_differences
from tests.helpers import SYNTHETIC_CONFIG


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
