"""mmdet benchmark configs: built as they are, run by a real mmdet Runner for two
iterations on generated VOC/COCO-format data, weights checked against the checkpoint."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner

from tests.test_benchmarks.runner_utils import (
    assert_loaded_from,
    benchmark_configs,
    check_init,
    random_image,
    strings_in,
    train_only,
    train_two_iterations,
)

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'benchmarks', 'mmdetection')
VOC_C4 = osp.join(CONFIG_DIR, 'voc0712', 'faster-rcnn_r50-c4_ms-24k_voc0712.py')
COCO_FPN = osp.join(CONFIG_DIR, 'coco', 'mask-rcnn_r50_fpn_ms-1x_coco.py')
RGB_MEAN = [123.675, 116.28, 103.53]
RGB_STD = [58.395, 57.12, 57.375]
IMAGE_HW = (96, 128)
SMALL_PIPELINE_SCALE = (128, 96)


def boxes_for(index: int):
    """Two boxes (x1, y1, x2, y2) of at least 32 px inside a 128x96 image."""
    return [(8 + index, 10, 60 + index, 70), (50, 20 + index, 120, 90)]


def write_voc(root, years=('VOC2007', 'VOC2012'), per_year=2):
    rng = np.random.default_rng(0)
    for year in years:
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            (root / year / sub).mkdir(parents=True)
        ids = [f'{year}_{i:03d}' for i in range(per_year)]
        for i, img_id in enumerate(ids):
            random_image(rng, *IMAGE_HW).save(root / year / 'JPEGImages' / f'{img_id}.jpg')
            objects = ''.join(
                f'<object><name>{name}</name><difficult>0</difficult><bndbox>'
                f'<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>'
                '</bndbox></object>'
                for name, (x1, y1, x2, y2) in zip(('dog', 'car'), boxes_for(i)))
            (root / year / 'Annotations' / f'{img_id}.xml').write_text(
                f'<annotation><filename>{img_id}.jpg</filename><size><width>{IMAGE_HW[1]}'
                f'</width><height>{IMAGE_HW[0]}</height><depth>3</depth></size>{objects}'
                '</annotation>')
        (root / year / 'ImageSets' / 'Main' / 'trainval.txt').write_text('\n'.join(ids) + '\n')


def write_coco(root, num_images=4):
    """COCO instances json with boxes and polygon masks, plus the images."""
    rng = np.random.default_rng(1)
    (root / 'train2017').mkdir(parents=True)
    images, annotations = [], []
    for i in range(num_images):
        name = f'{i:012d}.jpg'
        random_image(rng, *IMAGE_HW).save(root / 'train2017' / name)
        images.append(dict(id=i, file_name=name, height=IMAGE_HW[0], width=IMAGE_HW[1]))
        for cat, (x1, y1, x2, y2) in zip((1, 3), boxes_for(i)):
            polygon = [x1, y1, x2, y1, x2, y2, (x1 + x2) / 2, (y1 + y2) / 2, x1, y2]
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i, category_id=cat, iscrowd=0,
                bbox=[x1, y1, x2 - x1, y2 - y1], area=float((x2 - x1) * (y2 - y1)),
                segmentation=[[float(v) for v in polygon]]))
    categories = [dict(id=1, name='person'), dict(id=3, name='car')]
    (root / 'annotations').mkdir()
    (root / 'annotations' / 'instances_train2017.json').write_text(
        json.dumps(dict(images=images, annotations=annotations, categories=categories)))


def small_train_pipeline(with_mask: bool):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=with_mask),
        dict(type='Resize', scale=SMALL_PIPELINE_SCALE, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ]


def make_runnable(cfg: Config, work_dir: str, backbone_path: str) -> Config:
    """Two training iterations, batch 2, few RoIs, no validation, no checkpoint writing."""
    train_only(cfg, work_dir)
    cfg.model.backbone.init_cfg.checkpoint = backbone_path
    if 'shared_head' in cfg.model.roi_head:
        cfg.model.roi_head.shared_head.init_cfg.checkpoint = backbone_path
    # Fewer RoIs per image (512 by default) only to keep CPU time down: each one
    # goes through the res5 head in C4.
    cfg.model.train_cfg.rpn_proposal.max_per_img = 64
    cfg.model.train_cfg.rcnn.sampler.num = 32
    return cfg


def run_two_iterations(cfg: Config, expected_backbone, shared_head: bool):
    runner = Runner.from_cfg(cfg)
    model = runner.model
    # Non-distributed runners turn SyncBN into BN: nothing here needs a process group.
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    torch.testing.assert_close(model.data_preprocessor.mean.flatten().tolist(), RGB_MEAN)
    torch.testing.assert_close(model.data_preprocessor.std.flatten().tolist(), RGB_STD)
    assert model.data_preprocessor._channel_conversion  # BGR files -> RGB tensors

    # First: the initialised weights are the checkpoint's (init_weights runs once;
    # Runner.train() then skips it).
    model.init_weights()
    checked = assert_loaded_from(model.backbone, expected_backbone)
    assert checked == len(model.backbone.state_dict())
    if shared_head:
        head = model.roi_head.shared_head
        checked = assert_loaded_from(head, expected_backbone, allowed_extra=('norm.', ))
        res5 = [k for k in expected_backbone if k.startswith('layer4.')]
        assert checked == len(res5) and all(k in head.state_dict() for k in res5)
        assert torch.equal(head.norm.weight, torch.ones(2048))  # the extra norm starts fresh
    train_two_iterations(runner)


@pytest.mark.parametrize('path', benchmark_configs(CONFIG_DIR), ids=osp.basename)
def test_config_follows_protocol(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.data_preprocessor.mean == RGB_MEAN and model.data_preprocessor.std == RGB_STD
    assert model.data_preprocessor.bgr_to_rgb is True
    backbone = model.backbone
    assert (backbone.frozen_stages, backbone.norm_eval, backbone.style) == (-1, False, 'pytorch')
    assert backbone.norm_cfg.type == 'SyncBN'
    assert backbone.init_cfg.type == 'StrictPretrained'
    if model.backbone.num_stages == 3:  # C4: res5 is the shared head's, from the same file
        assert backbone.init_cfg.ignore_unexpected == ['layer4.']
        head = model.roi_head.shared_head
        assert head.type == 'ResLayerExtraNorm' and head.style == 'pytorch'
        assert head.norm_cfg.type == 'SyncBN' and head.norm_eval is False
        assert head.init_cfg.type == 'StrictPretrained'
        assert head.init_cfg.checkpoint == backbone.init_cfg.checkpoint
        assert head.init_cfg.ignore_missing == ['norm.']
    else:
        assert 'ignore_unexpected' not in backbone.init_cfg
    urls = [s for s in strings_in(cfg._cfg_dict.to_dict()) if '://' in s]
    assert urls == [], f'{path} would download {urls}'


@pytest.mark.parametrize('path', benchmark_configs(CONFIG_DIR), ids=osp.basename)
def test_init_loads_the_cgh_backbone_and_refuses_an_r18(path, backbone_files):
    cfg = Config.fromfile(path)
    check_init(cfg.model.backbone, MODELS, backbone_files)
    if cfg.model.backbone.num_stages == 3:
        check_init(cfg.model.roi_head.shared_head, MODELS, backbone_files,
                   allowed_extra=('norm.', ))


@pytest.mark.slow
def test_faster_rcnn_c4_voc(tmp_path, backbone_files):
    backbone_path, expected = backbone_files[50]
    write_voc(tmp_path / 'VOCdevkit')
    cfg = make_runnable(Config.fromfile(VOC_C4), str(tmp_path / 'work'), backbone_path)
    for dataset in cfg.train_dataloader.dataset.datasets:
        dataset.data_root = str(tmp_path / 'VOCdevkit') + '/'
        dataset.pipeline = small_train_pipeline(with_mask=False)
    cfg.train_cfg.max_iters = 2
    run_two_iterations(cfg, expected, shared_head=True)


@pytest.mark.slow
def test_mask_rcnn_fpn_coco(tmp_path, backbone_files):
    backbone_path, expected = backbone_files[50]
    write_coco(tmp_path / 'coco')
    cfg = make_runnable(Config.fromfile(COCO_FPN), str(tmp_path / 'work'), backbone_path)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'coco') + '/'
    cfg.train_dataloader.dataset.pipeline = small_train_pipeline(with_mask=True)
    cfg.train_cfg.max_epochs = 1  # 4 images, batch 2: two iterations
    run_two_iterations(cfg, expected, shared_head=False)
