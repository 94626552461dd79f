# Study, 3x budget (docs/study.md): the `make demo` CGH run
# (./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py) for 18 epochs instead of 6: the
# same one-epoch warm-up (of lr and of alpha), then the cosine to 0 over the other 17.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

max_epochs = 18
param_scheduler = _base_.param_scheduler
param_scheduler[1].update(T_max=max_epochs - 1, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
