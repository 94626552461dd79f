# The paper setting plus multi-crop: 4 local student crops of 192/160/128/96 px
# (strong colour pipeline, scale ranges of the reference), through the global
# branch only; loss_global is the mean over the main view and the local crops.
# As in the base recipe, the CPU crops and flips, the GPU applies the colours.
_base_ = ['./cgh_resnet50_8xb32-coslr-200e_in1k.py']

local_crops = [
    [dict(type='ContiguousRandomResizedCrop', scale=size, crop_ratio_range=scale_range,
          backend='pillow'),
     dict(type='RandomFlip', prob=0.5)]
    for size, scale_range in ((192, (0.172, 0.86)), (160, (0.143, 0.715)),
                              (128, (0.114, 0.571)), (96, (0.086, 0.429)))
]
train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='MultiView', num_views=[1] * 6,
         transforms=[{{_base_.weak_view}}, {{_base_.strong_view}}] + local_crops),
    dict(type='PackInputs'),
]
strong_colour = {{_base_.strong_colour}}
model = dict(num_local_crops=4,
             data_preprocessor=dict(view_pipelines=[[]] + [strong_colour] * 5))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
