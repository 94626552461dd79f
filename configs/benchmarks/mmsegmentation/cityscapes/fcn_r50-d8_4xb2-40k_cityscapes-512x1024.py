# FCN R50-D8 on Cityscapes fine (2975 train images), 512x1024 crops, 40k iterations,
# batch 8 (4 GPUs x 2).
# Base: mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py.
_base_ = [
    'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py',
    '../_base_/cgh_r50_d8.py',
]

model = dict(
    # The base's 'open-mmlab://resnet50_v1c' would be downloaded and loaded.
    pretrained=None,
    backbone={{_base_.cgh_backbone}})

default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
