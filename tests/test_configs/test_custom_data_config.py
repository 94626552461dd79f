"""The own-data recipe (docs/own_data.md): a real schedule, not the smoke-test settings."""
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'cgh', 'cgh_resnet50_1xb64-coslr-200e_custom.py')


def test_recipe_is_the_papers_scaled_and_not_a_smoke_test():
    cfg = Config.fromfile(CONFIG)
    # schedule: 200 epochs, warm-up then cosine reaching the last epoch
    assert cfg.train_cfg.max_epochs == 200
    assert [s['type'] for s in cfg.param_scheduler] == ['LinearLR', 'CosineAnnealingLR']
    assert all(s['by_epoch'] and s['convert_to_iter_based'] for s in cfg.param_scheduler)
    assert cfg.param_scheduler[-1]['end'] == 200
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    # lr 0.05 at batch 256, scaled by the Runner: 0.0125 on one GPU x 64
    assert cfg.auto_scale_lr == dict(base_batch_size=256, enable=True)
    lr_one_gpu = cfg.optim_wrapper.optimizer.lr * cfg.train_dataloader.batch_size / 256
    assert lr_one_gpu == 0.0125
    # logging, checkpoints and loading sized for a real run
    assert cfg.default_hooks.logger.interval >= 50
    assert cfg.default_hooks.checkpoint.interval >= 10
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
    assert cfg.train_dataloader.num_workers >= 4
    # the paper's necks for ResNet-50
    model = cfg.model
    assert model.backbone.depth == 50
    assert (model.neck.in_channels, model.neck.hid_channels, model.neck.out_channels) == \
        (2048, 4096, 512)
    neck = model.hypercolumn_neck
    assert (tuple(neck.in_channels), neck.conv_channels, neck.hid_channels,
            neck.out_channels) == ((1024, 2048), 2048, 4096, 512)


def test_warmup_outlasts_a_refill_on_the_smallest_dataset_the_doc_allows():
    cfg = Config.fromfile(CONFIG)
    warmup = cfg.custom_hooks[0]
    assert warmup == dict(type='WarmupParamHook', param_name='alpha', module_name='head',
                          warmup_epochs=5)
    assert {h['type'] for h in cfg.custom_hooks} == {'WarmupParamHook', 'CGHHealthHook'}
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
