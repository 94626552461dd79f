# Semi-supervised fine-tuning of a CGH ResNet-50 with 1% of the ImageNet labels:
# whole network trained, trunk lr 0.005, head lr 0.02, momentum 0.9, decay x0.1
# at epochs 30 and 60, 70 epochs, total batch 256. The annotation file comes from
#   python tools/dataset_converters/make_semi_supervised_split.py data/imagenet/train \
#       --subset-file 1percent.txt --out data/imagenet/meta/train_1percent.txt
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../../../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_eval=False,
        # StrictPretrained: a checkpoint that does not fit is an error, not a warning;
        # mmpretrain's ResNet would zero loaded BN weights with zero_init_residual=True.
        zero_init_residual=False,
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint='work_dirs/cgh_r50_8xb256/epoch_200.pth',
            prefix='backbone.')))

train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        split='',
        data_prefix='train',
        ann_file='meta/train_1percent.txt'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=4)}))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1)
]
# mmengine's loop, except that a mid-epoch resume goes on with the next batch
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=70, val_interval=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
