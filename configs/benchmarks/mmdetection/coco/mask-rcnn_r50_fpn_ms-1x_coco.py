# Mask R-CNN R50-FPN on COCO, 1x schedule (12 epochs), multi-scale training, batch 16
# (8 GPUs x 2), all layers fine-tuned with SyncBN in the backbone, FPN and heads (MoCo detection protocol).
# Base: mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py (PyTorch-style RGB already).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

# Backbone file written by tools/model_converters/cgh2backbone.py (openmmlab format);
# tools/benchmarks/mmdetection/dist_train_fpn.sh overrides init_cfg.checkpoint.
pretrained = 'work_dirs/cgh_backbone.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))

# Multi-scale training, shorter side 640-800 (MoCo protocol); test at 800.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768),
                (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
