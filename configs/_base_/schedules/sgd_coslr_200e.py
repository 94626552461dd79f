# The paper recipe at total batch 256: its optimiser (./sgd_bs256.py), 5 linear warm-up
# epochs from ~0, then cosine to 0, both stepped per iteration; the loss warm-up lasts
# 5 epochs too.
_base_ = ['./sgd_bs256.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=0.0, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]

# mmengine's epoch loop, except that a resume in the middle of an epoch goes on with
# the next batch instead of starting the epoch over.
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)
custom_hooks = [
    # alpha of the head: InfoNCE fades out, cross-context losses fade in
    dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=5),
    # refuses a warm-up shorter than a queue refill, warns when targets turn flat
    dict(type='CGHHealthHook'),
]

# `tools/train.py --auto-scale-lr` rescales lr by (total batch / 256).
auto_scale_lr = dict(base_batch_size=256)
