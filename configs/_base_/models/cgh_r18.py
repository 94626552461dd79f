# CGH with ResNet-18 and the ImageNet stem (7x7 conv + max-pool), for 64-224 px
# images: hypercolumn of layer3 (256 ch) + layer4 (512 ch).
_base_ = ['./cgh_r50.py']

model = dict(
    queue_len=65536,
    feat_dim=128,
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=2048, out_channels=128),
    hypercolumn_neck=dict(
        in_channels=(256, 512), conv_channels=512, hid_channels=2048, out_channels=128))
