# FCN R50-D8 on Cityscapes fine (2975 train images), 512x1024 crops, 40k iterations,
# batch 8 (4 GPUs x 2).
# Base: mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'

# Backbone file written by tools/model_converters/cgh2backbone.py (openmmlab format);
# tools/benchmarks/mmsegmentation/dist_train.sh overrides init_cfg.checkpoint.
pretrained = 'work_dirs/cgh_backbone.pth'
model = dict(
    # The base's 'open-mmlab://resnet50_v1c' would be downloaded and loaded.
    pretrained=None,
    backbone=dict(
        # mmseg's plain ResNet (7x7 stem, names conv1/bn1) instead of the base's
        # ResNetV1c, whose 3-conv deep stem would leave our stem weights unused.
        type='ResNet',
        deep_stem=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
