# Study, 3x budget (docs/study.md): the `make demo` CGH run for 18 epochs instead of 6.
# Same one-epoch warm-up (of lr and of alpha), then a cosine to 0 over the rest.
_base_ = ['../cgh/cgh_resnet18_1xb64-fashion-mnist_demo.py']

max_epochs = 18
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0.0, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
