# CGH with ResNet-18 and the small-image stem (3x3 conv, stride 1, no max-pool)
# for 32 px images: hypercolumn of layer3 (256 ch, 8x8) + layer4 (512 ch, 4x4).
_base_ = ['./cgh_r50.py']

model = dict(
    queue_len=16384,
    feat_dim=128,
    teacher_momentum=0.99,
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(in_channels=512, hid_channels=2048, out_channels=128),
    hypercolumn_neck=dict(
        in_channels=(256, 512), conv_channels=512, hid_channels=2048, out_channels=128))
