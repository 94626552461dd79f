# FCN R50-D8 on Pascal VOC 2012 + SBD augmented (10582 images), 512x512 crops,
# 20k iterations, batch 16 (4 GPUs x 4).
# Base: mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py.
_base_ = [
    'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py',
    '../_base_/cgh_r50_d8.py',
]

model = dict(
    # The base's 'open-mmlab://resnet50_v1c' would be downloaded and loaded.
    pretrained=None,
    backbone={{_base_.cgh_backbone}})

default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
