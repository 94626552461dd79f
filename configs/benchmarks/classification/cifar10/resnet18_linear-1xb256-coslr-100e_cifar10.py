# Linear probe of a CGH ResNet-18 (CIFAR stem, 32 px) pre-trained on CIFAR-10, with
# the reference protocol (see the base) and batch 256. The pre-training config must
# use the same backbone (type='ResNet_CIFAR', depth=18) so that the weights fit.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    '../_base_/linear-probe_sgd-coslr-100e.py',
    '../../../_base_/default_runtime.py',
]

# Frozen backbone, BN statistics included; weights of a CGH checkpoint's student,
# given with --cfg-options model.backbone.init_cfg.checkpoint=PATH. StrictPretrained
# refuses a checkpoint that does not fit (mmengine's Pretrained would only warn);
# zero_init_residual=False, else mmpretrain's ResNet would zero loaded BN weights.
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        zero_init_residual=False,
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint='work_dirs/cgh_r18_cifar10/epoch_200.pth',
            prefix='backbone.')))

train_dataloader = dict(batch_size=256)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
