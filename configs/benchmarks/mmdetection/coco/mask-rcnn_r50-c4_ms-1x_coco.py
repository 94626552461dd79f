# Mask R-CNN R50-C4 on COCO, 1x schedule (12 epochs), multi-scale training, batch 16
# (8 GPUs x 2): the MoCo detection protocol (all layers fine-tuned, SyncBN, extra norm after res5).
# Base: mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py (caffe style, BGR).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

# ResLayerExtraNorm: mmpretrain registers it into mmdet's registry.
custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm'], allow_failed_imports=False)

# Backbone file written by tools/model_converters/cgh2backbone.py (openmmlab format);
# tools/benchmarks/mmdetection/dist_train_c4.sh overrides both init_cfg.checkpoint keys.
pretrained = 'work_dirs/cgh_backbone.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # Inside `model`: a top-level data_preprocessor would not replace the base's
    # caffe-style one. PyTorch-style RGB statistics, as in pre-training.
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
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            # res5 (`layer4.*`) of the same backbone file.
            init_cfg=dict(type='Pretrained', checkpoint=pretrained))))

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
