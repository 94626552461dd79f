# Schedule of the reference linear probe: SGD lr 0.3, momentum 0.9, no weight decay,
# cosine over 100 epochs, for a total batch of 256. The configs using it freeze the
# backbone (frozen_stages=4, norm_eval=True) and load a CGH student backbone.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=0.))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)
]
# mmengine's loop, except that a mid-epoch resume goes on with the next batch
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=256)
