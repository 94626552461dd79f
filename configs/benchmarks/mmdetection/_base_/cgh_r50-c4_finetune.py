# The C4 detectors' fine-tuning (./cgh_r50_finetune.py): their res5 shared head is
# mmpretrain's ResLayerExtraNorm, which mmpretrain registers into mmdet's registry when
# its module is imported.
_base_ = ['./cgh_r50_finetune.py']

custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm', 'cgh_mm.runtime'],
    allow_failed_imports=False)
