# Study, 3x budget (docs/study.md): the global-only baseline
# (./cgh-global_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py) on the 18-epoch schedule
# of ./cgh_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py']

model = dict(
    backbone=dict(out_indices=(3, )),
    hypercolumn_neck=None,
    head=dict(teaching='global', global_weight=1.0))
