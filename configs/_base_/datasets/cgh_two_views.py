# CGH's two views of an image, as the paper draws them on ImageNet (224 px): view 0
# weak (teacher), view 1 strong (student); the train pipeline that makes them, and the
# loader settings every pretraining dataset shares. A dataset base adds its dataset,
# batch and workers, and edits the views where its images need it (mmengine's
# `_base_.xxx` syntax edits the inherited values), e.g. 96 px crops:
#   train_pipeline = _base_.train_pipeline
#   weak_view, strong_view = train_pipeline[1].transforms
#   weak_view[0].scale = strong_view[0].scale = 96
weak_view = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
strong_view = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='MultiView', num_views=[1, 1], transforms=[weak_view, strong_view]),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
