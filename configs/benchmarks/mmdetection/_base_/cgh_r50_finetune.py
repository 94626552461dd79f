# How every detection benchmark fine-tunes the CGH ResNet-50 (MoCo detection protocol):
# all layers trained (frozen_stages=-1), SyncBN in training mode, PyTorch-style stride
# and RGB statistics. Names carry a `cgh_` prefix because a config may not repeat a
# top-level name of its other base (mmdet's bases define `norm_cfg`, ...); configs
# place these values inside `model`.

# ResLayerExtraNorm (res5 head + extra norm, C4 only): mmpretrain registers it into
# mmdet's registry.
custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm'], allow_failed_imports=False)

# Backbone file written by tools/model_converters/cgh2backbone.py (openmmlab format).
# tools/benchmarks/mmdetection/dist_train_*.sh override every init_cfg.checkpoint.
cgh_pretrained = 'work_dirs/cgh_backbone.pth'
cgh_norm_cfg = dict(type='SyncBN', requires_grad=True)

# Must go inside `model`: a top-level data_preprocessor would not replace the one of
# mmdet's model bases (caffe-style BGR for C4).
cgh_data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_mask=True,
    pad_size_divisor=32)

cgh_backbone = dict(
    frozen_stages=-1,
    norm_cfg=cgh_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=dict(type='Pretrained', checkpoint=cgh_pretrained))

# C4: res5 of the same backbone file (`layer4.*`) plus a fresh norm on its output.
cgh_c4_shared_head = dict(
    type='ResLayerExtraNorm',
    norm_cfg=cgh_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=dict(type='Pretrained', checkpoint=cgh_pretrained))
