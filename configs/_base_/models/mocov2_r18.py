# mmpretrain's MoCo v2 on ResNet-18: the peer of tools/analysis/benchmark.py (only
# `model` is read).
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py']

model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
