# The `make demo` run: CGH on a Fashion-MNIST train subset, one CPU process.
# A narrow ResNet-18 (small-image stem, 16 base channels, stride 2 in the
# first stage) so that pretraining plus three kNN evaluations fit in minutes
# on 2 cores; the kNN monitor runs every epoch. The study of docs/study.md varies
# this config (the other files of this folder).
_base_ = [
    '../_base_/models/cgh_r18_cifar.py',
    '../_base_/datasets/fashion_mnist_cgh.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

base_channels = 16
model = dict(
    queue_len=4096,
    feat_dim=128,
    teacher_momentum=0.99,
    # Fashion-MNIST pixel statistics (grey, repeated on 3 channels).
    data_preprocessor=dict(mean=[72.94] * 3, std=[90.02] * 3, to_rgb=False),
    backbone=dict(stem_channels=base_channels, base_channels=base_channels,
                  strides=(2, 2, 2, 2)),
    neck=dict(in_channels=8 * base_channels, hid_channels=512),
    hypercolumn_neck=dict(in_channels=(4 * base_channels, 8 * base_channels),
                          conv_channels=8 * base_channels, hid_channels=512))

train_dataloader = dict(batch_size=64, dataset=dict(indices=15000))

max_epochs = 6
# lr 0.03 for batch 64: 0.1 made the loss terms rise again in the second epoch.
optim_wrapper = dict(optimizer=dict(lr=0.03))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0.0, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
# A refill of the queue takes 4096 / 64 = 64 iterations; the warm-up lasts one epoch
# (234 iterations).
custom_hooks = [
    dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=1),
    dict(type='CGHHealthHook'),
]
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
