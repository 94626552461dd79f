# STL-10 as folders (tools/dataset_converters writes them from the binary files):
#   data/stl10/unlabeled/<any>/*.png  (100k images, no labels)
#   data/stl10/{train,test}/<class>/*.png  (5k / 8k labelled images)
# Pretraining reads unlabeled + train (labels unused), 96 px views.
# Online kNN monitor: memory bank = train (5k), queries = test (8k).
dataset_type = 'CustomDataset'
data_root = 'data/stl10'

weak_view = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
strong_view = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.2, 1.0), backend='pillow'),
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
test_pipeline = [dict(type='LoadImageFromFileChecked'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_prefix='unlabeled',
                 with_label=False, pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 with_label=False, pipeline=train_pipeline),
        ]))

knn_memory_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=test_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='test',
                 pipeline=test_pipeline))
val_evaluator = dict(type='WeightedKNNAccuracy', k=20, temperature=0.07)
val_cfg = dict(type='KNNValLoop', memory_dataloader=knn_memory_dataloader)
