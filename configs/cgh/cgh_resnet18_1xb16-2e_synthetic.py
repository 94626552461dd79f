# A tiny CGH run on generated images: CPU smoke test and quick demo.
_base_ = [
    '../_base_/models/cgh_r18.py',
    '../_base_/schedules/sgd_bs256.py',
    '../_base_/default_runtime.py',
    '../_base_/datasets/cgh_two_views.py',
]

model = dict(
    # a refill of the queue takes 64 / 16 = 4 iterations: the 1-epoch warm-up outlasts it
    queue_len=64,
    teacher_momentum=0.99,
    neck=dict(hid_channels=256),
    hypercolumn_neck=dict(conv_channels=256, hid_channels=256))

# The paper's two views (cgh_two_views.py) at 64 px, without blur; the generated images
# are decoded already.
train_pipeline = _base_.train_pipeline[1:]
weak_view, strong_view = train_pipeline[0].transforms
weak_view[0].scale = strong_view[0].scale = 64
del strong_view[3]  # GaussianBlur
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,  # no workers to keep
    dataset=dict(type='SyntheticImageDataset', num_images=64, image_size=64, num_classes=4,
                 pipeline=train_pipeline))

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
