"""mmseg benchmark configs: built as they are, run by a real mmseg Runner for two
iterations on generated VOC-format data, weights checked against the checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS

from tests.test_benchmarks.runner_utils import (
    assert_loaded_from,
    benchmark_configs,
    check_init,
    strings_in,
    train_only,
    train_two_iterations,
    write_voc_segmentation,
)

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'benchmarks',
                      'mmsegmentation')
VOC_FCN = osp.join(CONFIG_DIR, 'voc12aug', 'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')
CROP = (64, 64)


@pytest.mark.parametrize('path', benchmark_configs(CONFIG_DIR), ids=osp.basename)
def test_config_uses_a_plain_resnet_stem(path):
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    assert cfg.model.pretrained is None
    assert backbone.type == 'ResNet' and backbone.deep_stem is False
    assert backbone.init_cfg.type == 'StrictPretrained'
    # FCN-D8 output stride: dilated last two stages.
    assert backbone.strides == (1, 2, 1, 1) and backbone.dilations == (1, 1, 2, 4)
    assert cfg.model.data_preprocessor.bgr_to_rgb is True
    urls = [s for s in strings_in(cfg._cfg_dict.to_dict()) if '://' in s]
    assert urls == [], f'{path} would download {urls}'


@pytest.mark.parametrize('path', benchmark_configs(CONFIG_DIR), ids=osp.basename)
def test_init_loads_the_cgh_backbone_and_refuses_an_r18(path, backbone_files):
    check_init(Config.fromfile(path).model.backbone, MODELS, backbone_files)


@pytest.mark.slow
# what mmseg says of its own FCN recipe (its decode head, its loss default, no visualizer)
@pytest.mark.filterwarnings('ignore:``build_loss`` would be deprecated:UserWarning:'
                            'mmseg\\.models\\.builder')
@pytest.mark.filterwarnings('ignore:Default ``avg_non_ignore`` is False:UserWarning:'
                            'mmseg\\.models\\.losses\\.cross_entropy_loss')
@pytest.mark.filterwarnings('ignore:The draw is False:UserWarning:'
                            'mmseg\\.engine\\.hooks\\.visualization_hook')
def test_fcn_voc12aug(tmp_path, backbone_files):
    backbone_path, expected = backbone_files[50]
    data_root = tmp_path / 'VOCdevkit' / 'VOC2012'
    write_voc_segmentation(data_root)

    cfg = train_only(Config.fromfile(VOC_FCN), str(tmp_path / 'work'))
    cfg.model.backbone.init_cfg.checkpoint = backbone_path
    cfg.model.data_preprocessor.size = CROP
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomCrop', crop_size=CROP, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ]
    for dataset in cfg.train_dataloader.dataset.datasets:  # VOC train + SBD aug
        dataset.update(data_root=str(data_root), pipeline=pipeline)
    cfg.train_cfg.max_iters = 2

    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    # First: every backbone entry, stem included, is the checkpoint's.
    model.init_weights()
    checked = assert_loaded_from(model.backbone, expected)
    assert checked == len(model.backbone.state_dict()) == len(expected)
    train_two_iterations(runner)
