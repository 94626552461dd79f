# CGH with ResNet-18 and the paper's neck sizes, as its reference code builds them on
# any backbone: 512-d embeddings, hidden 4096, fusion conv as wide as the last stage.
# Used by tools/analysis/benchmark.py (--arch resnet18 --necks paper).
_base_ = ['./cgh_r50.py']

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512),
    hypercolumn_neck=dict(in_channels=(256, 512), conv_channels=512))
