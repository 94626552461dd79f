# The paper setting plus multi-crop: 4 local student crops of 192/160/128/96 px
# (strong colour pipeline, scale ranges of the reference), through the global
# branch only; loss_global is the mean over the main view and the local crops.
_base_ = ['./cgh_resnet50_8xb32-coslr-200e_in1k.py']

model = dict(num_local_crops=4)

colour = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
local_crops = [
    [dict(type='RandomResizedCrop', scale=size, crop_ratio_range=scale_range,
          backend='pillow')] + colour
    for size, scale_range in ((192, (0.172, 0.86)), (160, (0.143, 0.715)),
                              (128, (0.114, 0.571)), (96, (0.086, 0.429)))
]
train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='MultiView', num_views=[1] * 6,
         transforms=[{{_base_.weak_view}}, {{_base_.strong_view}}] + local_crops),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
