# Study, 3x budget (docs/study.md): the demo's MoCo v2 peer
# (configs/mocov2/mocov2_resnet18-narrow_1xb64-6e_fashion-mnist.py) on the 18-epoch
# schedule of cgh_resnet18_1xb64-18e_fashion-mnist.py.
_base_ = ['../mocov2/mocov2_resnet18-narrow_1xb64-6e_fashion-mnist.py']

max_epochs = 18
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0.0, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
