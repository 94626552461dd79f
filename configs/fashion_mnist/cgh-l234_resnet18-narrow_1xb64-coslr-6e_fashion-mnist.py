# Study variant `cross-l234` (docs/study.md, "Does the hypercolumn's spatial extent
# matter?"): the demo config with the hypercolumn built from layer2 + layer3 + layer4
# (8 x 8, 4 x 4 and 2 x 2 maps at 32 px) instead of layer3 + layer4. The backbone also
# returns layer2; the global branch and the kNN features still read layer4 (the last map).
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

base_channels = 16
model = dict(
    backbone=dict(out_indices=(1, 2, 3)),
    hypercolumn_neck=dict(stage_indices=(0, 1, 2),
                          in_channels=(2 * base_channels, 4 * base_channels,
                                       8 * base_channels)))
