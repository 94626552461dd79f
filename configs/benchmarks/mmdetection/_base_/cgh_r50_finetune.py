# How every detection benchmark fine-tunes the CGH ResNet-50 (MoCo detection protocol):
# all layers trained (frozen_stages=-1), SyncBN in training mode, PyTorch-style stride
# and RGB statistics. Names carry a `cgh_` prefix because a config may not repeat a
# top-level name of its other base (mmdet's bases define `norm_cfg`, ...); configs
# place these values inside `model`.

# cgh_mm.runtime registers StrictPretrained, CheckpointGlobalsHook and
# ResumableEpochBasedTrainLoop into mmengine's root registries, where mmdet's find them;
# it imports neither mmpretrain nor scipy. The C4 configs add mmpretrain's
# ResLayerExtraNorm (res5 head + extra norm): ./cgh_r50-c4_finetune.py imports it.
custom_imports = dict(imports=['cgh_mm.runtime'], allow_failed_imports=False)
# mmengine's own checkpoints (--resume) load under torch's weights_only=True during the
# run only; importing cgh_mm changes nothing of the process.
custom_hooks = [dict(type='CheckpointGlobalsHook')]

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

# StrictPretrained: a backbone file that does not fit (another depth, a deep stem) is an
# error, where mmengine's Pretrained would only warn and train from random weights.
# mmdet's ResNet ignores zero_init_residual when it has an init_cfg.
cgh_backbone = dict(
    frozen_stages=-1,
    norm_cfg=cgh_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=dict(type='StrictPretrained', checkpoint=cgh_pretrained))

# C4: the backbone has 3 stages; res5 (`layer4.*` of the same file) goes to the shared
# head, which adds a fresh norm on its output. Each may leave the other's keys unused.
cgh_c4_backbone = dict(
    cgh_backbone,
    init_cfg=dict(
        type='StrictPretrained', checkpoint=cgh_pretrained, ignore_unexpected=['layer4.']))
cgh_c4_shared_head = dict(
    type='ResLayerExtraNorm',
    norm_cfg=cgh_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=dict(
        type='StrictPretrained',
        checkpoint=cgh_pretrained,
        ignore_missing=['norm.'],
        ignore_unexpected=['conv1.', 'bn1.', 'layer1.', 'layer2.', 'layer3.']))
