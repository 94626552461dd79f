# Linear probe of a CGH ResNet-18 (CIFAR stem, 32 px) pre-trained on CIFAR-10:
# frozen backbone (BN in eval mode), SGD lr 0.3, momentum 0.9, no weight decay,
# batch 256, 100 epochs, cosine. The pre-training config must use the same
# backbone (type='ResNet_CIFAR', depth=18) so that the weights fit.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    '../../../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/cgh_r18_cifar10/epoch_200.pth',
            prefix='backbone.')))

train_dataloader = dict(batch_size=256)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=0.))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
