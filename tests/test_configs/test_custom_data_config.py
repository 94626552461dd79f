"""The own-data recipe (docs/own_data.md): a real schedule, not the smoke-test settings."""
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'cgh', 'cgh_resnet50_1xb64-coslr-200e_custom.py')


def test_recipe_is_sized_for_a_real_run_not_a_smoke_test():
    # the paper's recipe, lr scaled to its batch: tests/test_configs/test_configs.py
    cfg = Config.fromfile(CONFIG)
    # logging, checkpoints and loading sized for a real run
    assert cfg.default_hooks.logger.interval >= 50
    assert cfg.default_hooks.checkpoint.interval >= 10
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
    assert cfg.train_dataloader.num_workers >= 4


def test_warmup_outlasts_a_refill_on_the_smallest_dataset_the_doc_allows():
    cfg = Config.fromfile(CONFIG)
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert set(hooks) == {'WarmupParamHook', 'CGHHealthHook'}
    warmup = hooks['WarmupParamHook']
    assert (warmup['param_name'], warmup['module_name']) == ('alpha', 'head')
    batch, queue = cfg.train_dataloader.batch_size, cfg.model.queue_len
    assert queue % batch == 0
    images = queue  # the doc: the queue is not longer than the dataset
    refill = queue // batch
    assert warmup['warmup_epochs'] * (images // batch) >= refill
    # the doc's example: 50,000 images give 15 refills within the warm-up
    assert warmup['warmup_epochs'] * (50000 // batch) // refill == 15


def test_folder_of_images_with_sub_folders_gives_two_views(tmp_path):
    rng = np.random.default_rng(0)
    for name in ('a.jpg', 'batch_2/b.png'):
        mmcv.imwrite(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), str(tmp_path / name))
    (tmp_path / 'notes.txt').write_text('not an image')
    cfg = Config.fromfile(CONFIG)
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.type == 'CustomDatasetChecked' and dataset_cfg.with_label is False
    assert dataset_cfg.pipeline[0]['type'] == 'LoadImageFromFileChecked'
    init_default_scope('mmpretrain')
    import cgh_mm.datasets  # noqa: F401  (LoadImageFromFileChecked)
    dataset = DATASETS.build(dict(dataset_cfg, data_root=str(tmp_path)))
    assert sorted(osp.relpath(dataset.get_data_info(i)['img_path'], tmp_path)
                  for i in range(len(dataset))) == ['a.jpg', 'batch_2/b.png']
    views = dataset[0]['inputs']
    assert [tuple(v.shape) for v in views] == [(3, 224, 224)] * 2
