# ImageNet-1k for CGH pretraining: mmpretrain's ImageNet dataset in data/imagenet
# (train/ folders, meta/train.txt as mmpretrain documents). Two views per image:
# view 0 weak (teacher), view 1 strong (student), as in the paper.
dataset_type = 'ImageNet'
data_root = 'data/imagenet'

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
test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# All augmentations on the CPU: 11.2 ms of CPU per two-view sample, measured as in
# ./imagenet_cgh_device-aug.py, so 8 workers make about 8 x 89 = 710 samples/s per
# GPU; the ImageNet recipes use the split of ./imagenet_cgh_device-aug.py instead
# (247/s per worker). 8 workers + the training process + its pin-memory thread: 10
# CPUs per GPU, within tools/slurm_train.sh's 12.
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
