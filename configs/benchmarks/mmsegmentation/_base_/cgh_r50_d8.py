# The backbone of every segmentation benchmark: mmseg's plain ResNet-50 (7x7 stem,
# names conv1/bn1), dilated as FCN-D8 needs, loaded from the CGH backbone file.
# mmseg's bases use ResNetV1c, whose 3-conv deep stem would leave our stem unused.
# Names carry a `cgh_` prefix because a config may not repeat a top-level name of its
# other base; configs place this inside `model`.

# StrictPretrained (registered by cgh_mm.runtime into mmengine's root registry, where
# mmseg's finds it; no mmpretrain, no scipy): a backbone file that does not fit is an
# error, where mmengine's Pretrained would only warn. mmseg's ResNet ignores
# zero_init_residual when it has an init_cfg.
custom_imports = dict(imports=['cgh_mm.runtime'], allow_failed_imports=False)
# mmengine's own checkpoints (--resume) load under torch's weights_only=True during the
# run only; importing cgh_mm changes nothing of the process.
custom_hooks = [dict(type='CheckpointGlobalsHook')]

# Backbone file written by tools/model_converters/cgh2backbone.py (openmmlab format).
# tools/benchmarks/mmsegmentation/dist_train.sh overrides init_cfg.checkpoint.
cgh_pretrained = 'work_dirs/cgh_backbone.pth'
cgh_backbone = dict(
    type='ResNet',
    deep_stem=False,
    init_cfg=dict(type='StrictPretrained', checkpoint=cgh_pretrained))
