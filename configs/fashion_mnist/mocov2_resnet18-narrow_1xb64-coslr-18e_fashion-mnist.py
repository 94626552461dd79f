# Study, 3x budget (docs/study.md): the demo's MoCo v2 peer
# (./mocov2_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py) on the 18-epoch schedule of
# ./cgh_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py.
_base_ = ['./mocov2_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

max_epochs = 18
param_scheduler = _base_.param_scheduler
param_scheduler[1].update(T_max=max_epochs - 1, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
