# A tiny CGH run on generated images: CPU smoke test and quick demo.
_base_ = [
    '../_base_/models/cgh_r18.py',
    '../_base_/schedules/sgd_bs256.py',
    '../_base_/default_runtime.py',
]

model = dict(
    # a refill of the queue takes 64 / 16 = 4 iterations: the 1-epoch warm-up outlasts it
    queue_len=64,
    teacher_momentum=0.99,
    neck=dict(hid_channels=256),
    hypercolumn_neck=dict(conv_channels=256, hid_channels=256))

weak_view = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
strong_view = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='SyntheticImageDataset',
        num_images=64,
        image_size=64,
        num_classes=4,
        pipeline=[
            dict(type='MultiView', num_views=[1, 1], transforms=[weak_view, strong_view]),
            dict(type='PackInputs'),
        ]))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=4),
    dict(type='CosineAnnealingLR', T_max=4, by_epoch=False, begin=4, end=8),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=2)
custom_hooks = [
    dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=1),
    dict(type='CGHHealthHook'),
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
