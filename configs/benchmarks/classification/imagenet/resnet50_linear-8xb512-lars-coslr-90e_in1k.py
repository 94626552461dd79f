# Linear probe of a CGH ResNet-50 on ImageNet with mmpretrain's LARS schedule
# (lr 1.6, momentum 0.9, no weight decay, cosine over 90 epochs), total batch 4096.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_lars_coslr_90e.py',
    '../../../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/cgh_r50_8xb256/epoch_200.pth',
            prefix='backbone.')))

train_dataloader = dict(batch_size=512)

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=10)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=4096)
