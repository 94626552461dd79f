# Faster R-CNN R50-C4 on VOC07+12 trainval, 24k iterations, batch 16 (8 GPUs x 2):
# the MoCo detection protocol (all layers fine-tuned, SyncBN, extra norm after res5).
# Base: mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py (caffe style, BGR).
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'

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
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        bbox_head=dict(num_classes=20)))

max_iters = 24000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=1))
